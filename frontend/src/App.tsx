import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { App as AntApp, ConfigProvider, Result, Spin } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import { useTranslation } from "react-i18next";
import { Link, Navigate, Route, Routes, useLocation } from "react-router";
import { ErrorAlert, FeedbackBridge } from "./components/feedback";
import { AppLayout } from "./layout/AppLayout";
import { AcceptInvitationPage } from "./pages/AcceptInvitation";
import { SignInPage } from "./pages/SignIn";
import { HOME, routes } from "./routes";
import { useMe, useWorkspace, WorkspaceProvider } from "./session/workspace";

/** Bailian's palette: a violet primary on a light, dense layout. */
export const theme = {
  token: { colorPrimary: "#615ced", borderRadius: 6, fontSize: 14 },
  components: { Layout: { bodyBg: "#f7f8fa", headerBg: "#fff", siderBg: "#fff" } },
};

function NotFound() {
  const { t } = useTranslation();
  return <Result status="404" title={t("notFound.title")} extra={<Link to={HOME}>{t("notFound.back")}</Link>} />;
}

/** Platform-admin pages answer "not found" to everyone else (the API refuses them anyway). */
function PlatformAdminOnly({ children }: { children: React.ReactNode }) {
  const { isPlatformAdmin } = useWorkspace();
  return isPlatformAdmin ? <>{children}</> : <NotFound />;
}

function SignedIn() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <Spin size="large" style={{ display: "block", marginTop: "30vh" }} />;
  if (me.error) return <div style={{ padding: 48 }}><ErrorAlert error={me.error} /></div>;
  if (!me.data || !me.data.user) {
    const next = location.pathname + location.search;
    return <Navigate to={`/sign-in${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`} replace />;
  }
  return (
    <WorkspaceProvider me={me.data}>
      <AppLayout />
    </WorkspaceProvider>
  );
}

export function ConsoleRoutes() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route path="/invitations/accept" element={<AcceptInvitationPage />} />
      <Route path="/" element={<SignedIn />}>
        <Route index element={<Navigate to={HOME} replace />} />
        {routes.map((r) => (
          <Route key={r.path} path={r.path} element={r.platformAdmin ? <PlatformAdminOnly>{r.element}</PlatformAdminOnly> : r.element} />
        ))}
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}

export function Providers({ client, children }: { client: QueryClient; children: React.ReactNode }) {
  const { i18n } = useTranslation();
  return (
    <ConfigProvider theme={theme} locale={i18n.language === "zh" ? zhCN : enUS}>
      <AntApp>
        <FeedbackBridge />
        <QueryClientProvider client={client}>{children}</QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  );
}
