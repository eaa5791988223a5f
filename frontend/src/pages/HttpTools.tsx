// HTTP tools of the workspace: list, create and edit (URL, method, JSON-Schema parameters,
// auth with a write-only secret), delete, import from an OpenAPI document, test-run.
import { ApiOutlined, DeleteOutlined, EditOutlined, ImportOutlined, PlayCircleOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Col, Drawer, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, call, type Schemas } from "../api/client";
import { EmptyState, ErrorAlert, notifySuccess, QueryState } from "../components/feedback";
import { isJson } from "../components/schemaFields";
import { useWorkspace, useWsKey } from "../session/workspace";
import { useHttpTools } from "./apps/model";
import { ToolRunner } from "../components/ToolRunner";

type HttpTool = Schemas["HttpToolOut"];
type AuthType = "none" | "bearer" | "basic" | "api_key";
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const EMPTY_PARAMETERS = `{
  "type": "object",
  "properties": {
    "city": {"type": "string", "description": "City name"}
  },
  "required": ["city"]
}`;

interface ToolForm {
  name: string;
  description: string;
  method: string;
  url: string;
  parameters: string;
  parameter_locations: string;
  timeout_seconds: number;
  auth_type: AuthType;
  auth_location?: "header" | "query";
  auth_name?: string;
  secret?: string;
  username?: string;
  password?: string;
}

function authBody(values: Pick<ToolForm, "auth_type" | "auth_location" | "auth_name" | "secret" | "username" | "password">, editing: HttpTool | null) {
  const type = values.auth_type;
  if (type === "none") return { type };
  const keepSecret = editing && editing.auth.type === type && editing.auth.has_secret;
  let secret: string | { username: string; password: string } | undefined;
  if (type === "basic") secret = values.username || values.password ? { username: values.username ?? "", password: values.password ?? "" } : undefined;
  else secret = values.secret || undefined;
  return {
    type,
    ...(type === "api_key" ? { location: values.auth_location ?? "header", name: values.auth_name ?? "" } : {}),
    ...(secret !== undefined || !keepSecret ? { secret: secret ?? null } : {}),
  };
}

function AuthFields({ editing }: { editing: HttpTool | null }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const type = Form.useWatch("auth_type", form) as AuthType | undefined;
  const kept = editing && editing.auth.type === type && editing.auth.has_secret;
  return (
    <Row gutter={12}>
      <Col span={8}>
        <Form.Item name="auth_type" label={t("httpTools.authType")}>
          <Select options={(["none", "bearer", "basic", "api_key"] as const).map((v) => ({ value: v, label: t(`httpTools.auth.${v}`) }))} />
        </Form.Item>
      </Col>
      {type === "api_key" && (
        <>
          <Col span={8}>
            <Form.Item name="auth_location" label={t("httpTools.authLocation")}>
              <Select options={[{ value: "header", label: t("httpTools.locations.header") }, { value: "query", label: t("httpTools.locations.query") }]} />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="auth_name" label={t("httpTools.authName")} rules={[{ required: true }]}>
              <Input placeholder="X-API-Key" />
            </Form.Item>
          </Col>
        </>
      )}
      {(type === "bearer" || type === "api_key") && (
        <Col span={24}>
          <Form.Item name="secret" label={t("httpTools.secret")} extra={kept ? t("httpTools.secretKept") : undefined} rules={kept ? [] : [{ required: true, message: t("httpTools.secretRequired") }]}>
            <Input.Password autoComplete="new-password" placeholder={kept ? "***" : undefined} />
          </Form.Item>
        </Col>
      )}
      {type === "basic" && (
        <>
          <Col span={12}>
            <Form.Item name="username" label={t("httpTools.username")} rules={kept ? [] : [{ required: true }]}>
              <Input autoComplete="off" placeholder={kept ? "***" : undefined} />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="password" label={t("httpTools.password")} extra={kept ? t("httpTools.secretKept") : undefined} rules={kept ? [] : [{ required: true }]}>
              <Input.Password autoComplete="new-password" placeholder={kept ? "***" : undefined} />
            </Form.Item>
          </Col>
        </>
      )}
    </Row>
  );
}

function jsonRule(t: (key: string) => string) {
  return { validator: (_: unknown, value: unknown) => (isJson(value) ? Promise.resolve() : Promise.reject(new Error(t("schemaForm.invalidJson")))) };
}

function ToolDrawer({ open, editing, onClose }: { open: boolean; editing: HttpTool | null; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<ToolForm>();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const save = useMutation({
    mutationFn: (values: ToolForm) => {
      const body = {
        name: values.name,
        description: values.description ?? "",
        method: values.method,
        url: values.url,
        parameters: values.parameters?.trim() ? (JSON.parse(values.parameters) as Record<string, unknown>) : {},
        parameter_locations: values.parameter_locations?.trim() ? (JSON.parse(values.parameter_locations) as Record<string, "path" | "query" | "header" | "body">) : {},
        timeout_seconds: values.timeout_seconds,
        auth: authBody(values, editing),
      };
      return editing
        ? call(api.PATCH("/console/api/http-tools/{tool_id}", { params: { path: { tool_id: editing.id } }, body }))
        : call(api.POST("/console/api/http-tools", { body }));
    },
    meta: { silent: true },
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: wsKey("http-tools") });
      notifySuccess(t("httpTools.saved"));
      onClose();
    },
  });
  const initial: Partial<ToolForm> = editing
    ? {
        name: editing.name,
        description: editing.description,
        method: editing.method,
        url: editing.url,
        parameters: JSON.stringify(editing.parameters, null, 2),
        parameter_locations: JSON.stringify(editing.parameter_locations, null, 2),
        timeout_seconds: editing.timeout_seconds,
        auth_type: editing.auth.type as AuthType,
        auth_location: (editing.auth.location as "header" | "query" | null) ?? "header",
        auth_name: editing.auth.name ?? undefined,
      }
    : { method: "GET", parameters: EMPTY_PARAMETERS, parameter_locations: "{}", timeout_seconds: 10, auth_type: "none", auth_location: "header" };
  return (
    <Drawer open={open} onClose={onClose} width={640} title={editing ? t("httpTools.editTitle", { name: editing.name }) : t("httpTools.createTitle")} destroyOnHidden>
      <Form<ToolForm> form={form} layout="vertical" initialValues={initial} onFinish={(v) => save.mutate(v)}>
        {save.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={save.error} /></div> : null}
        <Form.Item name="name" label={t("httpTools.name")} extra={t("httpTools.nameHint")} rules={[{ required: true, pattern: /^[A-Za-z][A-Za-z0-9_-]{0,63}$/, message: t("httpTools.nameInvalid") }]}>
          <Input placeholder="get_weather" />
        </Form.Item>
        <Form.Item name="description" label={t("httpTools.description")} extra={t("httpTools.descriptionHint")} rules={[{ required: true }, { max: 2000 }]}>
          <Input.TextArea rows={2} />
        </Form.Item>
        <Row gutter={12}>
          <Col span={6}>
            <Form.Item name="method" label={t("httpTools.method")}>
              <Select options={METHODS.map((m) => ({ value: m, label: m }))} />
            </Form.Item>
          </Col>
          <Col span={18}>
            <Form.Item name="url" label="URL" extra={t("httpTools.urlHint")} rules={[{ required: true }, { type: "url" }]}>
              <Input placeholder="https://api.example.com/weather/{city}" />
            </Form.Item>
          </Col>
        </Row>
        <Form.Item name="parameters" label={t("httpTools.parameters")} extra={t("httpTools.parametersHint")} rules={[jsonRule(t)]}>
          <Input.TextArea rows={8} spellCheck={false} style={{ fontFamily: "monospace" }} />
        </Form.Item>
        <Row gutter={12}>
          <Col span={16}>
            <Form.Item name="parameter_locations" label={t("httpTools.locationsLabel")} extra={t("httpTools.locationsHint")} rules={[jsonRule(t)]}>
              <Input.TextArea rows={2} spellCheck={false} style={{ fontFamily: "monospace" }} />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="timeout_seconds" label={t("httpTools.timeout")}>
              <InputNumber min={1} max={30} style={{ width: "100%" }} addonAfter="s" />
            </Form.Item>
          </Col>
        </Row>
        <AuthFields editing={editing} />
        <Button type="primary" htmlType="submit" loading={save.isPending}>
          {editing ? t("httpTools.save") : t("common.create")}
        </Button>
      </Form>
    </Drawer>
  );
}

function ImportModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ document: string; server_url?: string } & Pick<ToolForm, "auth_type" | "auth_location" | "auth_name" | "secret" | "username" | "password">>();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const run = useMutation({
    mutationFn: (values: { document: string; server_url?: string } & Pick<ToolForm, "auth_type" | "auth_location" | "auth_name" | "secret" | "username" | "password">) =>
      call(
        api.POST("/console/api/http-tools/import-openapi", {
          body: { document: values.document, server_url: values.server_url || null, timeout_seconds: 10, auth: authBody(values, null) },
        }),
      ),
    meta: { silent: true },
    onSuccess: (tools) => {
      void client.invalidateQueries({ queryKey: wsKey("http-tools") });
      notifySuccess(t("httpTools.imported", { count: tools.length }));
      form.resetFields();
      onClose();
    },
  });
  return (
    <Modal open={open} title={t("httpTools.importTitle")} onCancel={onClose} onOk={() => form.submit()} okText={t("httpTools.import")} confirmLoading={run.isPending} width={720} destroyOnHidden>
      <Form form={form} layout="vertical" initialValues={{ auth_type: "none", auth_location: "header" }} onFinish={(v) => run.mutate(v)}>
        {run.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={run.error} /></div> : null}
        <Form.Item name="document" label={t("httpTools.document")} extra={t("httpTools.documentHint")} rules={[{ required: true, message: t("httpTools.documentRequired") }]}>
          <Input.TextArea rows={12} spellCheck={false} style={{ fontFamily: "monospace" }} placeholder={"openapi: 3.0.0\ninfo: {title: Pets, version: '1'}\nservers: [{url: https://api.example.com}]\npaths: ..."} />
        </Form.Item>
        <Form.Item name="server_url" label={t("httpTools.serverUrl")} extra={t("httpTools.serverUrlHint")} rules={[{ type: "url" }]}>
          <Input placeholder="https://api.example.com" />
        </Form.Item>
        <AuthFields editing={null} />
      </Form>
    </Modal>
  );
}

export function HttpToolsTab() {
  const { t } = useTranslation();
  const tools = useHttpTools();
  const { can } = useWorkspace();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const editable = can("editHttpTools");
  const [editing, setEditing] = useState<HttpTool | null>(null);
  const [creating, setCreating] = useState(false);
  const [importing, setImporting] = useState(false);
  const [running, setRunning] = useState<HttpTool | null>(null);
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/http-tools/{tool_id}", { params: { path: { tool_id: id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: wsKey("http-tools") }),
  });
  const actions = editable ? (
    <Space>
      <Button icon={<ImportOutlined />} onClick={() => setImporting(true)}>
        {t("httpTools.importButton")}
      </Button>
      <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
        {t("httpTools.create")}
      </Button>
    </Space>
  ) : null;
  return (
    <Card size="small" title={<Space><ApiOutlined />{t("httpTools.title")}</Space>} extra={actions}>
      <QueryState query={tools}>
        <Table<HttpTool>
          rowKey="id"
          dataSource={tools.data ?? []}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          scroll={{ x: 800 }}
          locale={{ emptyText: <EmptyState title={t("httpTools.empty")} hint={editable ? t("httpTools.emptyHint") : t("httpTools.viewerHint")} action={actions} /> }}
          columns={[
            {
              title: t("httpTools.name"),
              dataIndex: "name",
              render: (name: string, tool) => (
                <Space direction="vertical" size={0}>
                  <Typography.Text strong code>{name}</Typography.Text>
                  <Typography.Text type="secondary" ellipsis style={{ maxWidth: 360 }}>{tool.description}</Typography.Text>
                </Space>
              ),
            },
            {
              title: t("httpTools.endpoint"),
              render: (_, tool) => (
                <Space size={4}>
                  <Tag color="blue">{tool.method}</Tag>
                  <Typography.Text ellipsis style={{ maxWidth: 320 }}>{tool.url}</Typography.Text>
                </Space>
              ),
            },
            { title: t("httpTools.authType"), render: (_, tool) => <Tag>{t(`httpTools.auth.${tool.auth.type}`, { defaultValue: tool.auth.type })}</Tag> },
            { title: t("httpTools.source"), dataIndex: "source", render: (s: string) => <Tag>{s}</Tag> },
            {
              title: "",
              align: "right",
              render: (_, tool) => (
                <Space>
                  {can("runTools") && <Button size="small" icon={<PlayCircleOutlined />} onClick={() => setRunning(tool)} aria-label={t("tools.testRun")} />}
                  {editable && <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(tool)} aria-label={t("httpTools.edit")} />}
                  {editable && (
                    <Popconfirm title={t("httpTools.deleteConfirm", { name: tool.name })} okButtonProps={{ danger: true }} onConfirm={() => remove.mutateAsync(tool.id)}>
                      <Button size="small" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} />
                    </Popconfirm>
                  )}
                </Space>
              ),
            },
          ]}
        />
      </QueryState>
      <ToolDrawer open={creating || editing !== null} editing={editing} onClose={() => { setCreating(false); setEditing(null); }} />
      <ImportModal open={importing} onClose={() => setImporting(false)} />
      <Drawer open={running !== null} onClose={() => setRunning(null)} width={560} title={t("tools.testRunTitle", { name: running?.name })} destroyOnHidden>
        {running && (
          <ToolRunner
            parameters={running.parameters}
            run={(args) => call(api.POST("/console/api/http-tools/{tool_id}/invoke", { params: { path: { tool_id: running.id } }, body: { arguments: args } }))}
          />
        )}
      </Drawer>
    </Card>
  );
}
