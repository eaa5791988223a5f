// Plugins: what is installed (status, error), enabling and configuring them for this
// workspace (a form generated from each plugin's settings schema); the workspace's tools
// with a test-run form; HTTP tools (HttpTools.tsx); and MCP servers (McpServers.tsx). Four
// sub-pages under /plugins.
import { PlayCircleOutlined, SettingOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Drawer, Form, Space, Switch, Table, Tabs, Tag, Tooltip, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { EmptyState, ErrorAlert, notifySuccess, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { SchemaFields } from "../components/SchemaForm";
import { fromFormValues, schemaFields, storedSecrets, toFormValues } from "../components/schemaFields";
import { useWorkspace, useWsKey } from "../session/workspace";
import { useTools } from "./apps/model";
import { ToolRunner } from "../components/ToolRunner";
import { HttpToolsTab } from "./HttpTools";
import { McpServersTab } from "./McpServers";

type Plugin = Schemas["PluginOut"];
type Tool = Schemas["ToolOut"];
const STATUS_COLORS: Record<string, string> = { loaded: "green", failed: "red", incompatible: "orange", missing: "default" };

function ConfigureDrawer({ plugin, onClose }: { plugin: Plugin | null; onClose: () => void }) {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const [form] = Form.useForm();
  const detail = useQuery({
    queryKey: wsKey("plugins", plugin?.kind, plugin?.id),
    enabled: plugin !== null,
    queryFn: () => call(api.GET("/console/api/plugins/{kind}/{plugin_id}", { params: { path: { kind: plugin!.kind, plugin_id: plugin!.id } } })),
  });
  const fields = schemaFields(detail.data?.settings_schema);
  const stored = storedSecrets(fields, detail.data?.settings);
  const save = useMutation({
    mutationFn: (settings: Record<string, unknown>) =>
      call(api.PATCH("/console/api/plugins/{kind}/{plugin_id}", { params: { path: { kind: plugin!.kind, plugin_id: plugin!.id } }, body: { settings } })),
    meta: { silent: true },
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: wsKey("plugins") });
      void client.invalidateQueries({ queryKey: wsKey("tools") });
      notifySuccess(t("plugins.saved"));
      onClose();
    },
  });
  return (
    <Drawer open={plugin !== null} onClose={onClose} width={560} title={t("plugins.configureTitle", { name: plugin?.display_name || plugin?.id })} destroyOnHidden>
      <QueryState query={detail}>
        {detail.data && (
          <Form
            form={form}
            layout="vertical"
            key={detail.dataUpdatedAt}
            initialValues={toFormValues(fields, detail.data.settings)}
            onFinish={(values) => save.mutate(fromFormValues(fields, values, stored))}
          >
            {detail.data.description && <Typography.Paragraph type="secondary">{detail.data.description}</Typography.Paragraph>}
            {save.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={save.error} /></div> : null}
            {fields.length === 0 ? (
              <EmptyState title={t("plugins.noSettings")} />
            ) : (
              <>
                <SchemaFields fields={fields} stored={stored} />
                <Button type="primary" htmlType="submit" loading={save.isPending}>
                  {t("plugins.save")}
                </Button>
              </>
            )}
          </Form>
        )}
      </QueryState>
    </Drawer>
  );
}

function PluginsTab() {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const { can, isPlatformAdmin } = useWorkspace();
  const configurable = can("configurePlugins");
  const [configuring, setConfiguring] = useState<Plugin | null>(null);
  const plugins = useQuery({ queryKey: wsKey("plugins"), queryFn: () => call(api.GET("/console/api/plugins")) });
  const toggle = useMutation({
    mutationFn: ({ plugin, enabled }: { plugin: Plugin; enabled: boolean }) =>
      call(api.PATCH("/console/api/plugins/{kind}/{plugin_id}", { params: { path: { kind: plugin.kind, plugin_id: plugin.id } }, body: { enabled } })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: wsKey("plugins") });
      void client.invalidateQueries({ queryKey: wsKey("tools") });
    },
  });
  return (
    <Card size="small">
      <QueryState query={plugins}>
        <Table<Plugin>
          rowKey={(p) => `${p.kind}:${p.id}`}
          size="middle"
          dataSource={plugins.data ?? []}
          pagination={false}
          scroll={{ x: 860 }}
          locale={{ emptyText: <EmptyState title={t("plugins.empty")} hint={t("plugins.emptyHint")} /> }}
          columns={[
            {
              title: t("plugins.plugin"),
              dataIndex: "id",
              render: (id: string, p) => (
                <Space direction="vertical" size={0}>
                  <Space size={6}>
                    <Typography.Text strong>{p.display_name || id}</Typography.Text>
                    <Typography.Text type="secondary" code>{id}</Typography.Text>
                  </Space>
                  {p.description && <Typography.Text type="secondary" ellipsis style={{ maxWidth: 420 }}>{p.description}</Typography.Text>}
                </Space>
              ),
            },
            { title: t("plugins.kind"), dataIndex: "kind", render: (k: string) => <Tag>{t(`plugins.kinds.${k}`, { defaultValue: k })}</Tag> },
            { title: t("plugins.version"), dataIndex: "version", render: (v: string, p) => <Tooltip title={p.distribution}>{v}</Tooltip> },
            {
              title: t("plugins.status"),
              dataIndex: "status",
              render: (s: string, p) => (
                <Space direction="vertical" size={0}>
                  <Tag color={STATUS_COLORS[s]}>{t(`plugins.statuses.${s}`, { defaultValue: s })}</Tag>
                  {p.error && <Typography.Text type="danger" style={{ fontSize: 12 }} data-testid="plugin-error">{p.error}</Typography.Text>}
                </Space>
              ),
            },
            {
              title: t("plugins.enabled"),
              dataIndex: "enabled",
              render: (enabled: boolean, p) => {
                // Such a plugin is switched on by platform admins only; anyone who
                // configures plugins may switch it off.
                const needsPlatformAdmin = p.requires_platform_admin && !isPlatformAdmin && !enabled;
                const toggleSwitch = (
                  <Switch
                    size="small"
                    checked={enabled}
                    disabled={!configurable || !p.available || needsPlatformAdmin}
                    loading={toggle.isPending && toggle.variables?.plugin.id === p.id}
                    onChange={(value) => toggle.mutate({ plugin: p, enabled: value })}
                    aria-label={t("plugins.enabled")}
                  />
                );
                return p.requires_platform_admin ? (
                  <Tooltip title={t(needsPlatformAdmin ? "plugins.platformAdminToEnable" : "plugins.platformAdminPlugin")}>
                    <span data-testid="platform-admin-toggle">{toggleSwitch}</span>
                  </Tooltip>
                ) : (
                  toggleSwitch
                );
              },
            },
            {
              title: "",
              align: "right",
              render: (_, p) =>
                configurable && Object.keys((p.settings_schema as { properties?: object }).properties ?? {}).length > 0 ? (
                  <Button size="small" icon={<SettingOutlined />} onClick={() => setConfiguring(p)} disabled={!p.available}>
                    {t("plugins.configure")}
                  </Button>
                ) : null,
            },
          ]}
        />
      </QueryState>
      <ConfigureDrawer plugin={configuring} onClose={() => setConfiguring(null)} />
    </Card>
  );
}

function ToolsTab() {
  const { t } = useTranslation();
  const tools = useTools();
  const { can } = useWorkspace();
  const [running, setRunning] = useState<Tool | null>(null);
  return (
    <Card size="small">
      <QueryState query={tools}>
        <Table<Tool>
          rowKey="id"
          dataSource={tools.data ?? []}
          pagination={false}
          locale={{ emptyText: <EmptyState title={t("tools.empty")} hint={t("tools.emptyHint")} /> }}
          columns={[
            {
              title: t("tools.tool"),
              dataIndex: "id",
              render: (id: string, tool) => (
                <Space direction="vertical" size={0}>
                  <Typography.Text strong>{tool.display_name || id}</Typography.Text>
                  <Typography.Text code>{id}</Typography.Text>
                </Space>
              ),
            },
            { title: t("tools.description"), dataIndex: "description", render: (d: string) => <Typography.Paragraph ellipsis={{ rows: 2 }} style={{ margin: 0 }}>{d}</Typography.Paragraph> },
            { title: t("tools.arguments"), render: (_, tool) => Object.keys((tool.parameters as { properties?: object }).properties ?? {}).map((a) => <Tag key={a}>{a}</Tag>) },
            { title: t("tools.timeout"), dataIndex: "timeout_seconds", render: (s: number) => `${s}s` },
            {
              title: "",
              align: "right",
              render: (_, tool) =>
                can("runTools") ? (
                  <Button size="small" icon={<PlayCircleOutlined />} onClick={() => setRunning(tool)}>
                    {t("tools.testRun")}
                  </Button>
                ) : null,
            },
          ]}
        />
      </QueryState>
      <Drawer open={running !== null} onClose={() => setRunning(null)} width={560} title={t("tools.testRunTitle", { name: running?.display_name || running?.id })} destroyOnHidden>
        {running && (
          <ToolRunner
            parameters={running.parameters}
            run={(args) => call(api.POST("/console/api/tools/{plugin_id}/invoke", { params: { path: { plugin_id: running.id } }, body: { arguments: args } }))}
          />
        )}
      </Drawer>
    </Card>
  );
}

const TABS = ["", "tools", "http-tools", "mcp-servers"] as const;

export function PluginsPage() {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const sub = location.pathname.split("/")[2] ?? "";
  const active = (TABS as readonly string[]).includes(sub) ? sub : "";
  return (
    <>
      <PageHeader title={t("nav.plugins")} subtitle={t("plugins.subtitle")} />
      <Tabs
        activeKey={active || "plugins"}
        onChange={(key) => navigate(key === "plugins" ? "/plugins" : `/plugins/${key}`)}
        items={[
          { key: "plugins", label: t("plugins.tabs.plugins"), children: <PluginsTab /> },
          { key: "tools", label: t("plugins.tabs.tools"), children: <ToolsTab /> },
          { key: "http-tools", label: t("plugins.tabs.httpTools"), children: <HttpToolsTab /> },
          { key: "mcp-servers", label: t("plugins.tabs.mcpServers"), children: <McpServersTab /> },
        ]}
      />
    </>
  );
}
