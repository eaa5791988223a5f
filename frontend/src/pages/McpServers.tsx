// MCP servers of the workspace (their tools become tools of apps and workflows): list, add
// and edit (transport, URL or an allow-listed stdio command, headers and a bearer token,
// both write-only), delete, test the connection, re-list the tools, switch tools on and
// off, and test-run a tool with a form made from its input schema.
import { ApiOutlined, DeleteOutlined, EditOutlined, MinusCircleOutlined, PlayCircleOutlined, PlusOutlined, SyncOutlined, ThunderboltOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Checkbox, Col, Descriptions, Drawer, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Spin, Switch, Table, Tag, Tooltip, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, call } from "../api/client";
import type { paths } from "../api/schema";
import { EmptyState, ErrorAlert, notifySuccess, QueryState } from "../components/feedback";
import { SECRET_MASK } from "../components/schemaFields";
import { ToolRunner } from "../components/ToolRunner";
import { useWorkspace, useWsKey } from "../session/workspace";
import { useMcpServers, type McpServer, type McpTool } from "./apps/model";

export type Transport = "streamable_http" | "sse" | "stdio";
const TRANSPORTS: Transport[] = ["streamable_http", "sse", "stdio"];
type Json<P extends keyof paths, M extends "post" | "patch"> = paths[P][M] extends { responses: { 200: { content: { "application/json": infer T } } } } ? T : never;
type TestResult = Json<"/console/api/mcp-servers/{server_id}/test", "post">;
type CreateBody = NonNullable<paths["/console/api/mcp-servers"]["post"]["requestBody"]>["content"]["application/json"];
type UpdateBody = NonNullable<paths["/console/api/mcp-servers/{server_id}"]["patch"]["requestBody"]>["content"]["application/json"];

export interface ServerForm {
  name: string;
  transport: Transport;
  url?: string;
  command?: string;
  headers?: { name?: string; value?: string }[];
  bearer_token?: string;
  remove_token?: boolean;
  timeout_seconds?: number;
}

/** The form's values → the body of POST /mcp-servers (creating) or PATCH (editing).
 * Headers replace the stored set; a value left as "***" keeps the stored one. An empty
 * bearer token keeps the stored one when editing; "remove" sends "" to delete it. */
export function serverBody(values: ServerForm, editing: null): CreateBody;
export function serverBody(values: ServerForm, editing: Pick<McpServer, "has_bearer_token">): UpdateBody;
export function serverBody(values: ServerForm, editing: Pick<McpServer, "has_bearer_token"> | null): CreateBody | UpdateBody {
  const http = values.transport !== "stdio";
  const headers: Record<string, string> = {};
  for (const row of values.headers ?? []) {
    const name = row?.name?.trim();
    if (name) headers[name] = row.value ?? "";
  }
  const token = values.bearer_token?.trim() ?? "";
  let bearer: { bearer_token?: string } = {};
  if (http && editing?.has_bearer_token && values.remove_token) bearer = { bearer_token: "" };
  else if (http && token) bearer = { bearer_token: token };
  const target = http ? { url: values.url?.trim() } : { command: values.command };
  const body = { name: values.name.trim(), transport: values.transport, ...target, headers: http ? headers : {}, ...bearer, timeout_seconds: values.timeout_seconds ?? 30 };
  // Editing may change the transport: clear what the other kind of server had.
  return editing ? { ...body, ...(http ? { command: null } : { url: null }) } : body;
}

function toForm(server: McpServer | null): Partial<ServerForm> {
  if (!server) return { transport: "streamable_http", timeout_seconds: 30, headers: [] };
  return {
    name: server.name,
    transport: server.transport as Transport,
    url: server.url ?? undefined,
    command: server.command ?? undefined,
    headers: Object.keys(server.headers).map((name) => ({ name, value: SECRET_MASK })),
    timeout_seconds: server.timeout_seconds,
  };
}

function useStdioCommands(enabled: boolean) {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("mcp-stdio-commands"), enabled, queryFn: () => call(api.GET("/console/api/mcp-servers/stdio-commands")) });
}

function ServerModal({ open, editing, onClose }: { open: boolean; editing: McpServer | null; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<ServerForm>();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const transport = (Form.useWatch("transport", form) ?? editing?.transport ?? "streamable_http") as Transport;
  const removeToken = Form.useWatch("remove_token", form) as boolean | undefined;
  const commands = useStdioCommands(open && transport === "stdio");
  const save = useMutation({
    mutationFn: (values: ServerForm) =>
      editing
        ? call(api.PATCH("/console/api/mcp-servers/{server_id}", { params: { path: { server_id: editing.id } }, body: serverBody(values, editing) }))
        : call(api.POST("/console/api/mcp-servers", { body: serverBody(values, null) })),
    meta: { silent: true },
    onSuccess: (server) => {
      void client.invalidateQueries({ queryKey: wsKey("mcp-servers") });
      notifySuccess(server.last_error ? t("mcpServers.savedWithError", { message: server.last_error.message }) : t("mcpServers.saved", { count: server.tools.length }));
      onClose();
    },
  });
  const http = transport !== "stdio";
  const kept = Boolean(editing?.has_bearer_token);
  return (
    <Modal
      open={open}
      title={editing ? t("mcpServers.editTitle", { name: editing.name }) : t("mcpServers.createTitle")}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={editing ? t("mcpServers.save") : t("common.create")}
      confirmLoading={save.isPending}
      width={640}
      destroyOnHidden
    >
      <Form<ServerForm> form={form} layout="vertical" initialValues={toForm(editing)} onFinish={(v) => save.mutate(v)}>
        {save.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={save.error} /></div> : null}
        <Row gutter={12}>
          <Col span={14}>
            <Form.Item name="name" label={t("mcpServers.name")} extra={t("mcpServers.nameHint")} rules={[{ required: true, pattern: /^[A-Za-z][A-Za-z0-9_-]{0,31}$/, message: t("mcpServers.nameInvalid") }]}>
              <Input placeholder="github" />
            </Form.Item>
          </Col>
          <Col span={10}>
            <Form.Item name="transport" label={t("mcpServers.transport")}>
              <Select options={TRANSPORTS.map((v) => ({ value: v, label: t(`mcpServers.transports.${v}`) }))} data-testid="mcp-transport" />
            </Form.Item>
          </Col>
        </Row>
        {http ? (
          <Form.Item name="url" label="URL" rules={[{ required: true }, { type: "url" }]}>
            <Input placeholder={transport === "sse" ? "https://mcp.example.com/sse" : "https://mcp.example.com/mcp"} />
          </Form.Item>
        ) : (
          <>
            {commands.data && commands.data.length === 0 && <Alert type="info" showIcon style={{ marginBottom: 12 }} message={t("mcpServers.noCommands")} data-testid="no-stdio-commands" />}
            {commands.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={commands.error} /></div> : null}
            <Form.Item name="command" label={t("mcpServers.command")} extra={t("mcpServers.commandHint")} rules={[{ required: true }]}>
              <Select
                loading={commands.isPending}
                options={(commands.data ?? []).map((c) => ({ value: c.name, label: c.description ? `${c.name} · ${c.description}` : c.name }))}
                data-testid="mcp-command"
              />
            </Form.Item>
          </>
        )}
        {http && (
          <>
            <Typography.Text strong>{t("mcpServers.headers")}</Typography.Text>
            <Form.List name="headers">
              {(fields, { add, remove }) => (
                <div style={{ marginTop: 8, marginBottom: 12 }}>
                  {editing && fields.length > 0 && <Typography.Paragraph type="secondary">{t("mcpServers.headersKept")}</Typography.Paragraph>}
                  {fields.map((field) => (
                    <Row gutter={8} key={field.key} align="top">
                      <Col span={10}>
                        <Form.Item name={[field.name, "name"]} rules={[{ required: true, message: t("mcpServers.headerNameRequired") }]}>
                          <Input placeholder={t("mcpServers.headerName")} aria-label={t("mcpServers.headerName")} />
                        </Form.Item>
                      </Col>
                      <Col span={12}>
                        <Form.Item name={[field.name, "value"]}>
                          <Input placeholder={t("mcpServers.headerValue")} aria-label={t("mcpServers.headerValue")} autoComplete="off" />
                        </Form.Item>
                      </Col>
                      <Col span={2}>
                        <Button type="text" icon={<MinusCircleOutlined />} onClick={() => remove(field.name)} aria-label={t("mcpServers.removeHeader")} />
                      </Col>
                    </Row>
                  ))}
                  <Button size="small" icon={<PlusOutlined />} onClick={() => add({ name: "", value: "" })}>
                    {t("mcpServers.addHeader")}
                  </Button>
                </div>
              )}
            </Form.List>
            <Form.Item name="bearer_token" label={t("mcpServers.bearerToken")} extra={kept ? t("mcpServers.tokenKept") : t("mcpServers.tokenHint")}>
              <Input.Password autoComplete="new-password" placeholder={kept ? SECRET_MASK : undefined} disabled={Boolean(removeToken)} data-testid="mcp-token" />
            </Form.Item>
            {kept && (
              <Form.Item name="remove_token" valuePropName="checked" style={{ marginTop: -12 }}>
                <Checkbox>{t("mcpServers.removeToken")}</Checkbox>
              </Form.Item>
            )}
          </>
        )}
        <Form.Item name="timeout_seconds" label={t("mcpServers.timeout")}>
          <InputNumber min={1} max={120} style={{ width: 160 }} addonAfter="s" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function TestResultModal({ server, result, error, onClose }: { server: McpServer | null; result?: TestResult; error?: unknown; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Modal open={server !== null} title={t("mcpServers.testTitle", { name: server?.name })} onCancel={onClose} footer={null} destroyOnHidden>
      {!result && !error && (
        <Space>
          <Spin size="small" />
          {t("mcpServers.testing")}
        </Space>
      )}
      {error ? <ErrorAlert error={error} /> : null}
      {result &&
        (result.ok ? (
          <Alert
            type="success"
            showIcon
            data-testid="mcp-test-result"
            message={t("mcpServers.testOk", { ms: result.duration_ms })}
            description={
              <Descriptions size="small" column={1}>
                <Descriptions.Item label={t("mcpServers.serverName")}>{result.server_name ?? "—"}</Descriptions.Item>
                <Descriptions.Item label={t("mcpServers.serverVersion")}>{result.server_version ?? "—"}</Descriptions.Item>
                <Descriptions.Item label={t("mcpServers.tools")}>{result.tool_count ?? "—"}</Descriptions.Item>
              </Descriptions>
            }
          />
        ) : (
          <Alert
            type="error"
            showIcon
            data-testid="mcp-test-result"
            message={t("mcpServers.testFailed", { ms: result.duration_ms })}
            description={result.error ? <><Tag color="red">{result.error.code}</Tag>{result.error.message}</> : undefined}
          />
        ))}
    </Modal>
  );
}

function ToolsTable({ server, editable, canRun, onRun }: { server: McpServer; editable: boolean; canRun: boolean; onRun: (tool: McpTool) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const toggle = useMutation({
    mutationFn: ({ tool, enabled }: { tool: McpTool; enabled: boolean }) =>
      call(api.PATCH("/console/api/mcp-servers/{server_id}/tools/{tool_id}", { params: { path: { server_id: server.id, tool_id: tool.id } }, body: { enabled } })),
    onSuccess: (updated) => {
      client.setQueryData<McpServer[]>(wsKey("mcp-servers"), (servers) =>
        servers?.map((s) => (s.id === server.id ? { ...s, tools: s.tools.map((tool) => (tool.id === updated.id ? updated : tool)) } : s)),
      );
      void client.invalidateQueries({ queryKey: wsKey("mcp-servers") });
    },
  });
  return (
    <Table<McpTool>
      rowKey="id"
      size="small"
      dataSource={server.tools}
      pagination={false}
      data-testid={`mcp-tools-${server.name}`}
      locale={{ emptyText: <EmptyState title={t("mcpServers.noTools")} hint={server.last_error ? undefined : t("mcpServers.noToolsHint")} /> }}
      columns={[
        { title: t("mcpServers.tool"), dataIndex: "name", render: (name: string) => <Typography.Text strong>{name}</Typography.Text> },
        { title: t("tools.description"), dataIndex: "description", render: (d: string) => <Typography.Paragraph ellipsis={{ rows: 2, tooltip: d }} style={{ margin: 0, maxWidth: 420 }}>{d}</Typography.Paragraph> },
        {
          title: <Tooltip title={t("mcpServers.functionNameHint")}>{t("mcpServers.functionName")}</Tooltip>,
          dataIndex: "function_name",
          render: (f: string) => <Typography.Text code>{f}</Typography.Text>,
        },
        {
          title: t("mcpServers.enabled"),
          dataIndex: "enabled",
          render: (enabled: boolean, tool) => (
            <Switch
              size="small"
              checked={enabled}
              disabled={!editable}
              loading={toggle.isPending && toggle.variables?.tool.id === tool.id}
              onChange={(value) => toggle.mutate({ tool, enabled: value })}
              aria-label={t("mcpServers.enableTool", { name: tool.name })}
            />
          ),
        },
        {
          title: "",
          align: "right",
          render: (_, tool) =>
            canRun ? (
              <Button size="small" icon={<PlayCircleOutlined />} onClick={() => onRun(tool)} aria-label={t("mcpServers.runTool", { name: tool.name })}>
                {t("tools.testRun")}
              </Button>
            ) : null,
        },
      ]}
    />
  );
}

export function McpServersTab() {
  const { t } = useTranslation();
  const servers = useMcpServers();
  const { can } = useWorkspace();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const editable = can("editApps");
  // The API lets the same roles test-run a server's tools as change it.
  const canRun = editable;
  const [editing, setEditing] = useState<McpServer | null>(null);
  const [creating, setCreating] = useState(false);
  const [testing, setTesting] = useState<McpServer | null>(null);
  const [running, setRunning] = useState<{ server: McpServer; tool: McpTool } | null>(null);
  const invalidate = () => client.invalidateQueries({ queryKey: wsKey("mcp-servers") });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/mcp-servers/{server_id}", { params: { path: { server_id: id } } })),
    onSuccess: invalidate,
  });
  const test = useMutation({
    mutationFn: (server: McpServer) => call(api.POST("/console/api/mcp-servers/{server_id}/test", { params: { path: { server_id: server.id } } })),
    meta: { silent: true },
  });
  const refresh = useMutation({
    mutationFn: (server: McpServer) => call(api.POST("/console/api/mcp-servers/{server_id}/refresh", { params: { path: { server_id: server.id } } })),
    onSuccess: (server) => {
      void invalidate();
      notifySuccess(server.last_error ? t("mcpServers.refreshedWithError", { message: server.last_error.message }) : t("mcpServers.refreshed", { count: server.tools.length }));
    },
  });
  const actions = editable ? (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
      {t("mcpServers.create")}
    </Button>
  ) : null;
  return (
    <Card size="small" title={<Space><ApiOutlined />{t("mcpServers.title")}</Space>} extra={actions}>
      <Typography.Paragraph type="secondary">{t("mcpServers.intro")}</Typography.Paragraph>
      <QueryState query={servers}>
        <Table<McpServer>
          rowKey="id"
          dataSource={servers.data ?? []}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          scroll={{ x: 900 }}
          expandable={{
            expandedRowRender: (server) => (
              <Space direction="vertical" style={{ width: "100%" }}>
                {server.last_error && <Alert type="error" showIcon message={server.last_error.message} description={server.last_error.code} />}
                <ToolsTable server={server} editable={editable} canRun={canRun} onRun={(tool) => setRunning({ server, tool })} />
              </Space>
            ),
          }}
          locale={{ emptyText: <EmptyState title={t("mcpServers.empty")} hint={editable ? t("mcpServers.emptyHint") : t("mcpServers.viewerHint")} action={actions} /> }}
          columns={[
            {
              title: t("mcpServers.name"),
              dataIndex: "name",
              render: (name: string, server) => (
                <Space direction="vertical" size={0}>
                  <Typography.Text strong>{name}</Typography.Text>
                  {server.server_info && (
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                      {server.server_info.name} {server.server_info.version}
                    </Typography.Text>
                  )}
                </Space>
              ),
            },
            { title: t("mcpServers.transport"), dataIndex: "transport", render: (v: string) => <Tag color="blue">{t(`mcpServers.transports.${v}`, { defaultValue: v })}</Tag> },
            {
              title: t("mcpServers.endpoint"),
              render: (_, server) =>
                server.transport === "stdio" ? <Typography.Text code>{server.command}</Typography.Text> : <Typography.Text ellipsis style={{ maxWidth: 320 }}>{server.url}</Typography.Text>,
            },
            {
              title: t("mcpServers.tools"),
              render: (_, server) => t("mcpServers.toolCount", { enabled: server.tools.filter((tool) => tool.enabled).length, count: server.tools.length }),
            },
            {
              title: t("mcpServers.status"),
              render: (_, server) =>
                server.last_error ? (
                  <Tooltip title={server.last_error.message}>
                    <Tag color="red" data-testid="mcp-last-error">{server.last_error.code}</Tag>
                  </Tooltip>
                ) : server.tools_refreshed_at ? (
                  <Tag color="green">{t("mcpServers.connected")}</Tag>
                ) : (
                  <Tag>{t("mcpServers.never")}</Tag>
                ),
            },
            {
              title: t("mcpServers.refreshedAt"),
              dataIndex: "tools_refreshed_at",
              render: (v: string | null) => (v ? new Date(v).toLocaleString() : "—"),
            },
            {
              title: "",
              align: "right",
              render: (_, server) => (
                <Space>
                  {editable && (
                  <Tooltip title={t("mcpServers.test")}>
                    <Button
                      size="small"
                      icon={<ThunderboltOutlined />}
                      loading={test.isPending && test.variables?.id === server.id}
                      onClick={() => {
                        setTesting(server);
                        test.mutate(server);
                      }}
                      aria-label={t("mcpServers.test")}
                    />
                  </Tooltip>
                  )}
                  {editable && (
                    <Tooltip title={t("mcpServers.refresh")}>
                      <Button size="small" icon={<SyncOutlined />} loading={refresh.isPending && refresh.variables?.id === server.id} onClick={() => refresh.mutate(server)} aria-label={t("mcpServers.refresh")} />
                    </Tooltip>
                  )}
                  {editable && <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(server)} aria-label={t("mcpServers.edit")} />}
                  {editable && (
                    <Popconfirm title={t("mcpServers.deleteConfirm", { name: server.name })} okButtonProps={{ danger: true }} onConfirm={() => remove.mutateAsync(server.id)}>
                      <Button size="small" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} />
                    </Popconfirm>
                  )}
                </Space>
              ),
            },
          ]}
        />
      </QueryState>
      <ServerModal open={creating || editing !== null} editing={editing} onClose={() => { setCreating(false); setEditing(null); }} />
      <TestResultModal
        server={testing}
        result={test.isPending ? undefined : test.data}
        error={test.isPending ? undefined : test.error}
        onClose={() => {
          setTesting(null);
          test.reset();
        }}
      />
      <Drawer open={running !== null} onClose={() => setRunning(null)} width={560} title={t("tools.testRunTitle", { name: running?.tool.function_name })} destroyOnHidden>
        {running && (
          <>
            {running.tool.description && <Typography.Paragraph type="secondary">{running.tool.description}</Typography.Paragraph>}
            <ToolRunner
              key={running.tool.id}
              parameters={running.tool.input_schema}
              rawFallback
              run={(args) =>
                call(
                  api.POST("/console/api/mcp-servers/{server_id}/tools/{tool_id}/invoke", {
                    params: { path: { server_id: running.server.id, tool_id: running.tool.id } },
                    body: { arguments: args },
                  }),
                )
              }
            />
          </>
        )}
      </Drawer>
    </Card>
  );
}
