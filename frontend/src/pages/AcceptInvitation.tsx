// The invitation link's page: /invitations/accept#<token>. The token sits in the fragment,
// which the browser never sends to the server, so it is in no access log; the page sends it
// in request bodies. It shows what the invitation is for, then: signed in as the invited
// address, "Join"; signed in as someone else, a way to sign out; signed out, either sign in
// (the invited address) or create the account, and join in the same step. The page offers
// both to everyone: it does not tell whether the address has an account.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Descriptions, Form, Input, Result, Spin, Tabs, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";
import { api, call, ensureCsrfCookie, type Schemas } from "../api/client";
import { ErrorAlert } from "../components/feedback";
import { SignedOutFrame } from "../components/SignedOutFrame";
import { HOME } from "../routes";
import { meKey, rememberWorkspace, useMe, type Me } from "../session/workspace";

type Invitation = Schemas["InvitationPreviewOut"];

/** The token from the location's fragment ("#abc" → "abc"). */
export function tokenFromHash(hash: string): string {
  const raw = hash.replace(/^#/, "");
  try {
    return decodeURIComponent(raw).trim();
  } catch {
    return raw.trim();
  }
}

function Summary({ invitation }: { invitation: Invitation }) {
  const { t } = useTranslation();
  return (
    <>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {t("invitation.title", { workspace: invitation.workspace })}
      </Typography.Title>
      <Descriptions size="small" column={1} style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t("invitation.email")}>{invitation.email}</Descriptions.Item>
        <Descriptions.Item label={t("invitation.role")}>{t(`roles.${invitation.role}`)}</Descriptions.Item>
        {invitation.invited_by && <Descriptions.Item label={t("invitation.invitedBy")}>{invitation.invited_by}</Descriptions.Item>}
        <Descriptions.Item label={t("invitation.expires")}>{new Date(invitation.expires_at).toLocaleString()}</Descriptions.Item>
      </Descriptions>
    </>
  );
}

interface SignInForm {
  password: string;
}

interface SignUpForm {
  name: string;
  password: string;
}

export function AcceptInvitationPage() {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const client = useQueryClient();
  const token = tokenFromHash(location.hash);
  const me = useMe();
  const invitation = useQuery({
    queryKey: ["invitation", token],
    enabled: token !== "",
    retry: false,
    queryFn: () => call(api.POST("/console/api/invitations/lookup", { body: { token } })),
  });

  const joined = (slug: string, signedIn?: Me) => {
    rememberWorkspace(slug);
    // Everything cached belonged to the caller before joining; the invitation itself is
    // kept, or this page (still mounted) would look it up again and find it used.
    client.removeQueries({ predicate: (query) => query.queryKey[0] !== "invitation" });
    if (signedIn) client.setQueryData(meKey, signedIn);
    navigate(HOME, { replace: true });
  };
  const accept = useMutation({
    meta: { silent: true },
    mutationFn: () => call(api.POST("/console/api/invitations/accept", { body: { token } })),
    onSuccess: (workspace) => joined(workspace.slug),
  });
  const signInAndAccept = useMutation({
    meta: { silent: true },
    mutationFn: async ({ password }: SignInForm) => {
      await ensureCsrfCookie();
      const signedIn = await call(api.POST("/console/api/auth/login", { body: { email: invitation.data!.email, password } }));
      const workspace = await call(api.POST("/console/api/invitations/accept", { body: { token } }));
      return { signedIn, workspace };
    },
    onSuccess: ({ signedIn, workspace }) => joined(workspace.slug, signedIn),
  });
  const signUp = useMutation({
    meta: { silent: true },
    mutationFn: async ({ name, password }: SignUpForm) => {
      await ensureCsrfCookie();
      return call(api.POST("/console/api/invitations/sign-up", { body: { token, name, password } }));
    },
    onSuccess: (signedIn) => joined(signedIn.workspaces[0]?.slug ?? "", signedIn),
  });
  const signOut = useMutation({
    mutationFn: () => call(api.POST("/console/api/auth/logout")),
    onSuccess: () => client.setQueryData(meKey, null),
  });

  if (!token) {
    return (
      <SignedOutFrame width={440}>
        <Result status="warning" title={t("invitation.noToken")} subTitle={t("invitation.noTokenHint")} />
      </SignedOutFrame>
    );
  }
  if (invitation.isPending || me.isPending) {
    return (
      <SignedOutFrame width={440}>
        <Spin style={{ display: "block", margin: "48px auto" }} />
      </SignedOutFrame>
    );
  }
  if (invitation.error || !invitation.data) {
    return (
      <SignedOutFrame width={440}>
        <Typography.Title level={4} style={{ marginTop: 0 }}>
          {t("invitation.unusable")}
        </Typography.Title>
        <ErrorAlert error={invitation.error} />
      </SignedOutFrame>
    );
  }
  const data = invitation.data;
  const user = me.data?.user ?? null;
  return (
    <SignedOutFrame width={440}>
      <Summary invitation={data} />
      {user && user.email.toLowerCase() === data.email ? (
        <>
          {accept.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={accept.error} /></div> : null}
          <Button type="primary" block loading={accept.isPending} onClick={() => accept.mutate()}>
            {t("invitation.join", { workspace: data.workspace })}
          </Button>
        </>
      ) : user ? (
        <Alert
          type="warning"
          showIcon
          data-testid="invitation-other-user"
          message={t("invitation.otherUser", { current: user.email, email: data.email })}
          action={
            <Button size="small" loading={signOut.isPending} onClick={() => signOut.mutate()}>
              {t("invitation.signOut")}
            </Button>
          }
        />
      ) : (
        <Tabs
          items={[
            {
              key: "sign-in",
              label: t("invitation.haveAccount"),
              children: (
                <Form<SignInForm> layout="vertical" requiredMark={false} onFinish={(v) => signInAndAccept.mutate(v)}>
                  {signInAndAccept.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={signInAndAccept.error} /></div> : null}
                  <Form.Item label={t("invitation.email")}>
                    <Input value={data.email} disabled autoComplete="username" />
                  </Form.Item>
                  <Form.Item name="password" label={t("signIn.password")} rules={[{ required: true, message: t("signIn.passwordRequired") }]}>
                    <Input.Password autoComplete="current-password" />
                  </Form.Item>
                  <Button type="primary" htmlType="submit" block loading={signInAndAccept.isPending}>
                    {t("invitation.signInAndJoin")}
                  </Button>
                </Form>
              ),
            },
            {
              key: "sign-up",
              label: t("invitation.newAccount"),
              children: (
                <Form<SignUpForm> layout="vertical" requiredMark={false} onFinish={(v) => signUp.mutate(v)}>
                  {signUp.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={signUp.error} /></div> : null}
                  <Form.Item label={t("invitation.email")}>
                    <Input value={data.email} disabled />
                  </Form.Item>
                  <Form.Item name="name" label={t("invitation.name")} rules={[{ required: true, whitespace: true, message: t("invitation.nameRequired") }]}>
                    <Input autoComplete="name" />
                  </Form.Item>
                  <Form.Item name="password" label={t("invitation.newPassword")} rules={[{ required: true, message: t("signIn.passwordRequired") }]} extra={t("invitation.passwordHint")}>
                    <Input.Password autoComplete="new-password" />
                  </Form.Item>
                  <Button type="primary" htmlType="submit" block loading={signUp.isPending}>
                    {t("invitation.createAndJoin")}
                  </Button>
                </Form>
              ),
            },
          ]}
        />
      )}
    </SignedOutFrame>
  );
}
