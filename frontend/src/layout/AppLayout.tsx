// The signed-in shell: left menu (from routes.tsx), header with the workspace switcher,
// the language switcher and the user menu.
import { GlobalOutlined, LogoutOutlined, SwapOutlined, UserOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Avatar, Button, Dropdown, Layout, Menu, Select, Space, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link, Outlet, useLocation, useNavigate } from "react-router";
import { api, call } from "../api/client";
import { NoWorkspace } from "../components/feedback";
import { LANGUAGES, setLanguage, type Language } from "../i18n";
import { routes } from "../routes";
import { meKey, useWorkspace } from "../session/workspace";

const { Header, Sider, Content } = Layout;

export function WorkspaceSwitcher() {
  const { t } = useTranslation();
  const { workspaces, workspace, switchTo } = useWorkspace();
  const navigate = useNavigate();
  const location = useLocation();
  if (!workspaces.length) return <Tag>{t("workspace.none")}</Tag>;
  return (
    <Select
      aria-label={t("workspace.switch")}
      value={workspace?.slug}
      style={{ minWidth: 200 }}
      suffixIcon={<SwapOutlined />}
      onChange={(slug: string) => {
        switchTo(slug);
        // Detail pages name objects of the workspace we are leaving.
        navigate(`/${location.pathname.split("/")[1] ?? ""}`);
      }}
      options={workspaces.map((w) => ({
        value: w.slug,
        label: (
          <Space size={6}>
            <span>{w.name}</span>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {t(`roles.${w.role}` as "roles.admin", { defaultValue: w.role })}
            </Typography.Text>
          </Space>
        ),
      }))}
    />
  );
}

export function LanguageSwitcher() {
  const { i18n } = useTranslation();
  return (
    <Dropdown
      menu={{
        selectedKeys: [i18n.language],
        items: (Object.keys(LANGUAGES) as Language[]).map((key) => ({ key, label: LANGUAGES[key] })),
        onClick: ({ key }) => setLanguage(key as Language),
      }}
    >
      <Button type="text" icon={<GlobalOutlined />} aria-label="language">
        {LANGUAGES[(i18n.language as Language) in LANGUAGES ? (i18n.language as Language) : "en"]}
      </Button>
    </Dropdown>
  );
}

function UserMenu() {
  const { t } = useTranslation();
  const { me, isPlatformAdmin } = useWorkspace();
  const client = useQueryClient();
  const navigate = useNavigate();
  const signOut = useMutation({
    mutationFn: () => call(api.POST("/console/api/auth/logout")),
    onSuccess: () => {
      client.clear();
      client.setQueryData(meKey, null);
      navigate("/sign-in");
    },
  });
  const email = me.user?.email ?? "";
  return (
    <Dropdown
      menu={{
        items: [
          { key: "who", label: <Typography.Text type="secondary">{email}</Typography.Text>, disabled: true },
          ...(isPlatformAdmin ? [{ key: "admin", label: <Tag color="purple">{t("user.platformAdmin")}</Tag>, disabled: true }] : []),
          { type: "divider" as const },
          { key: "signout", icon: <LogoutOutlined />, label: t("user.signOut"), onClick: () => signOut.mutate() },
        ],
      }}
    >
      <Button type="text" data-testid="user-menu">
        <Space>
          <Avatar size="small" icon={<UserOutlined />} />
          <span>{me.user?.name || email}</span>
        </Space>
      </Button>
    </Dropdown>
  );
}

export function AppLayout() {
  const { t } = useTranslation();
  const { workspace, isPlatformAdmin, can } = useWorkspace();
  const location = useLocation();
  const section = location.pathname.split("/")[1] ?? "";
  const items = routes
    .filter((r) => r.menu && (!r.platformAdmin || isPlatformAdmin) && (!r.permission || can(r.permission)))
    .map((r) => ({ key: r.path, icon: r.menu!.icon, label: <Link to={`/${r.path}`}>{t(`nav.${r.menu!.label}`)}</Link> }));
  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Sider width={208} theme="light" breakpoint="lg" collapsedWidth={64} style={{ borderRight: "1px solid #f0f0f0" }}>
        <Link to="/" style={{ display: "flex", alignItems: "center", gap: 8, height: 56, padding: "0 20px" }}>
          <img src="/favicon.svg" width={24} height={24} alt="" />
          <Typography.Text strong style={{ fontSize: 16 }}>
            ministudio
          </Typography.Text>
        </Link>
        <Menu mode="inline" selectedKeys={[section]} items={items} style={{ borderInlineEnd: 0 }} />
      </Sider>
      <Layout>
        <Header
          style={{
            background: "#fff",
            padding: "0 24px",
            display: "flex",
            alignItems: "center",
            justifyContent: "space-between",
            borderBottom: "1px solid #f0f0f0",
            height: 56,
          }}
        >
          <WorkspaceSwitcher />
          <Space>
            <LanguageSwitcher />
            <UserMenu />
          </Space>
        </Header>
        <Content style={{ padding: 24, minWidth: 0 }}>{workspace ? <Outlet /> : <NoWorkspace />}</Content>
      </Layout>
    </Layout>
  );
}
