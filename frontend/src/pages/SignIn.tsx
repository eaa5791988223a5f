import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Form, Input, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { api, call, ensureCsrfCookie } from "../api/client";
import { ErrorAlert } from "../components/feedback";
import { SignedOutFrame } from "../components/SignedOutFrame";
import { HOME } from "../routes";
import { meKey, useMe } from "../session/workspace";

interface Credentials {
  email: string;
  password: string;
}

export function SignInPage() {
  const { t } = useTranslation();
  const me = useMe();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = params.get("next");
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : HOME;
  const signIn = useMutation({
    meta: { silent: true },
    mutationFn: async (credentials: Credentials) => {
      await ensureCsrfCookie();
      return call(api.POST("/console/api/auth/login", { body: credentials }));
    },
    onSuccess: (data) => {
      // Signing in rotated the CSRF cookie; the client reads it afresh on every request.
      client.clear();
      client.setQueryData(meKey, data);
      navigate(target, { replace: true });
    },
  });
  if (me.data?.user) return <Navigate to={target} replace />;
  return (
    <SignedOutFrame width={380}>
      <div style={{ textAlign: "center", marginBottom: 24 }}>
        <img src="/favicon.svg" width={40} height={40} alt="" />
        <Typography.Title level={3} style={{ margin: "8px 0 4px" }}>
          ministudio
        </Typography.Title>
        <Typography.Text type="secondary">{t("signIn.subtitle")}</Typography.Text>
      </div>
      {signIn.error && (
        <div style={{ marginBottom: 16 }}>
          <ErrorAlert error={signIn.error} />
        </div>
      )}
      <Form<Credentials> layout="vertical" onFinish={(values) => signIn.mutate(values)} requiredMark={false}>
        <Form.Item name="email" label={t("signIn.email")} rules={[{ required: true, type: "email", message: t("signIn.emailRequired") }]}>
          <Input autoComplete="username" autoFocus />
        </Form.Item>
        <Form.Item name="password" label={t("signIn.password")} rules={[{ required: true, message: t("signIn.passwordRequired") }]}>
          <Input.Password autoComplete="current-password" />
        </Form.Item>
        <Button type="primary" htmlType="submit" block loading={signIn.isPending}>
          {t("signIn.submit")}
        </Button>
      </Form>
    </SignedOutFrame>
  );
}
