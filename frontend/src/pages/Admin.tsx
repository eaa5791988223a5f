// Platform administration (platform admins only): model endpoints (register, provider
// settings from the provider plugin's schema, test connection, grants), workspaces, quotas.
import { ApiOutlined, DeleteOutlined, EditOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Checkbox, Col, Drawer, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Switch, Table, Tabs, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { EmptyState, ErrorAlert, notifySuccess, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { SchemaFields } from "../components/SchemaForm";
import { fromFormValues, isJson, schemaFields, storedSecrets, toFormValues } from "../components/schemaFields";
import { useWsKey } from "../session/workspace";
import { CapabilityTags } from "./Models";
import { ModelGroupsTab } from "./admin/ModelGroupsTab";

type Endpoint = Schemas["EndpointOut"];
type Quota = Schemas["QuotaOut"];
type Capability = Schemas["EndpointCapability"];
const CAPABILITIES: Capability[] = ["chat", "tool_calls", "embedding", "rerank"];
const LIMITS = ["requests_per_minute", "tokens_per_minute", "tokens_per_day", "tokens_per_month", "concurrent_requests"] as const;

function useEndpoints() {
  return useQuery({ queryKey: ["admin", "endpoints"], queryFn: () => call(api.GET("/console/api/model-endpoints")) });
}

function useAllWorkspaces() {
  return useQuery({ queryKey: ["workspaces"], queryFn: () => call(api.GET("/console/api/workspaces")) });
}

interface EndpointForm {
  name: string;
  display_name?: string;
  provider: string;
  upstream_model: string;
  capabilities: Capability[];
  context_window?: number | null;
  embedding_dimension?: number | null;
  price_input_per_1k?: number;
  price_output_per_1k?: number;
  enabled: boolean;
  settings?: Record<string, unknown>;
  settings_json?: string;
  default_parameters?: string;
}

function EndpointDrawer({ open, editing, onClose }: { open: boolean; editing: Endpoint | null; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<EndpointForm>();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const providers = useQuery({ queryKey: wsKey("plugins", "model"), queryFn: () => call(api.GET("/console/api/plugins", { params: { query: { kind: "model" } } })) });
  const provider = Form.useWatch("provider", form) ?? editing?.provider;
  const plugin = (providers.data ?? []).find((p) => p.id === provider);
  const fields = schemaFields(plugin?.settings_schema);
  const stored = editing ? storedSecrets(fields, editing.settings) : [];
  const capabilities = (Form.useWatch("capabilities", form) ?? []) as Capability[];
  const save = useMutation({
    mutationFn: (values: EndpointForm) => {
      const all = { ...form.getFieldsValue(true), ...values } as EndpointForm;
      const settings = fields.length ? fromFormValues(fields, all.settings ?? {}, stored) : all.settings_json?.trim() ? (JSON.parse(all.settings_json) as Record<string, unknown>) : {};
      const body = {
        display_name: all.display_name ?? "",
        upstream_model: all.upstream_model,
        capabilities: all.capabilities,
        context_window: all.context_window ?? null,
        embedding_dimension: all.embedding_dimension ?? null,
        price_input_per_1k: all.price_input_per_1k ?? 0,
        price_output_per_1k: all.price_output_per_1k ?? 0,
        enabled: all.enabled,
        settings,
        default_parameters: all.default_parameters?.trim() ? (JSON.parse(all.default_parameters) as Record<string, unknown>) : {},
      };
      return editing
        ? call(api.PATCH("/console/api/model-endpoints/{endpoint_id}", { params: { path: { endpoint_id: editing.id } }, body }))
        : call(api.POST("/console/api/model-endpoints", { body: { ...body, name: all.name, provider: all.provider } }));
    },
    meta: { silent: true },
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["admin", "endpoints"] });
      void client.invalidateQueries({ queryKey: ["ws"] });
      notifySuccess(t("admin.endpoints.saved"));
      onClose();
    },
  });
  const initial: Partial<EndpointForm> = editing
    ? {
        ...editing,
        price_input_per_1k: Number(editing.price_input_per_1k),
        price_output_per_1k: Number(editing.price_output_per_1k),
        settings_json: JSON.stringify(editing.settings, null, 2),
        default_parameters: JSON.stringify(editing.default_parameters, null, 2),
      }
    : { capabilities: ["chat"], enabled: true, price_input_per_1k: 0, price_output_per_1k: 0, default_parameters: "{}", settings_json: "{}" };
  const jsonRule = { validator: (_: unknown, v: unknown) => (isJson(v) ? Promise.resolve() : Promise.reject(new Error(t("schemaForm.invalidJson")))) };
  return (
    <Drawer open={open} onClose={onClose} width={640} title={editing ? t("admin.endpoints.editTitle", { name: editing.name }) : t("admin.endpoints.createTitle")} destroyOnHidden>
      <Form<EndpointForm>
        form={form}
        layout="vertical"
        initialValues={initial}
        onFinish={(v) => save.mutate(v)}
        onValuesChange={(changed) => {
          if ("provider" in changed) {
            const next = (providers.data ?? []).find((p) => p.id === changed.provider);
            form.setFieldValue("settings", toFormValues(schemaFields(next?.settings_schema), undefined));
          }
        }}
      >
        {save.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={save.error} /></div> : null}
        <Row gutter={12}>
          <Col span={12}>
            <Form.Item name="name" label={t("admin.endpoints.name")} extra={t("admin.endpoints.nameHint")} rules={[{ required: true }]}>
              <Input disabled={Boolean(editing)} placeholder="qwen-plus" />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="display_name" label={t("admin.endpoints.displayName")}>
              <Input />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="provider" label={t("admin.endpoints.provider")} rules={[{ required: true }]}>
              <Select
                disabled={Boolean(editing)}
                loading={providers.isPending}
                options={(providers.data ?? []).map((p) => ({ value: p.id, label: `${p.display_name || p.id} (${p.id})`, disabled: !p.available }))}
              />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="upstream_model" label={t("admin.endpoints.upstreamModel")} rules={[{ required: true }]}>
              <Input placeholder="gpt-4o-mini" />
            </Form.Item>
          </Col>
        </Row>
        <Form.Item name="capabilities" label={t("models.capabilities")} rules={[{ required: true }]}>
          <Checkbox.Group options={CAPABILITIES.map((c) => ({ value: c, label: t(`models.capability.${c}`) }))} />
        </Form.Item>
        <Row gutter={12}>
          {capabilities.includes("chat") && (
            <Col span={8}>
              <Form.Item name="context_window" label={t("admin.endpoints.contextWindow")}>
                <InputNumber min={1} style={{ width: "100%" }} />
              </Form.Item>
            </Col>
          )}
          {capabilities.includes("embedding") && (
            <Col span={8}>
              <Form.Item name="embedding_dimension" label={t("admin.endpoints.dimension")} rules={[{ required: true }]}>
                <InputNumber min={1} style={{ width: "100%" }} />
              </Form.Item>
            </Col>
          )}
          <Col span={8}>
            <Form.Item name="price_input_per_1k" label={t("admin.endpoints.priceIn")}>
              <InputNumber min={0} step={0.001} style={{ width: "100%" }} />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="price_output_per_1k" label={t("admin.endpoints.priceOut")}>
              <InputNumber min={0} step={0.001} style={{ width: "100%" }} />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="enabled" label={t("admin.endpoints.enabled")} valuePropName="checked">
              <Switch />
            </Form.Item>
          </Col>
        </Row>
        <Typography.Title level={5}>{t("admin.endpoints.settings")}</Typography.Title>
        {fields.length ? (
          <SchemaFields fields={fields} stored={stored} prefix={["settings"]} />
        ) : (
          <Form.Item name="settings_json" extra={provider ? t("admin.endpoints.settingsJson") : t("admin.endpoints.pickProvider")} rules={[jsonRule]}>
            <Input.TextArea rows={5} spellCheck={false} style={{ fontFamily: "monospace" }} disabled={!provider} />
          </Form.Item>
        )}
        <Form.Item name="default_parameters" label={t("admin.endpoints.defaultParameters")} extra='{"temperature": 0.3}' rules={[jsonRule]}>
          <Input.TextArea rows={2} spellCheck={false} style={{ fontFamily: "monospace" }} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={save.isPending} data-testid="save-endpoint">
          {editing ? t("admin.save") : t("common.create")}
        </Button>
      </Form>
    </Drawer>
  );
}

function TestButton({ endpoint }: { endpoint: Endpoint }) {
  const { t } = useTranslation();
  const [result, setResult] = useState<Schemas["ConnectionTestOut"] | null>(null);
  const test = useMutation({
    mutationFn: () => call(api.POST("/console/api/model-endpoints/{endpoint_id}/test", { params: { path: { endpoint_id: endpoint.id } } })),
    onSuccess: setResult,
  });
  return (
    <>
      <Button size="small" icon={<ApiOutlined />} loading={test.isPending} onClick={() => test.mutate()}>
        {t("admin.endpoints.test")}
      </Button>
      <Modal open={result !== null} onCancel={() => setResult(null)} footer={null} title={t("admin.endpoints.testTitle", { name: endpoint.name })}>
        {result && (
          <Alert
            type={result.ok ? "success" : "error"}
            showIcon
            data-testid="test-result"
            message={result.ok ? t("admin.endpoints.testOk", { ms: result.latency_ms, capability: result.capability }) : t("admin.endpoints.testFailed", { ms: result.latency_ms })}
            description={result.detail ? <pre className="json-block">{result.detail}</pre> : undefined}
          />
        )}
      </Modal>
    </>
  );
}

function GrantsCell({ endpoint }: { endpoint: Endpoint }) {
  const { t } = useTranslation();
  const workspaces = useAllWorkspaces();
  const client = useQueryClient();
  const done = () => {
    void client.invalidateQueries({ queryKey: ["admin", "endpoints"] });
    void client.invalidateQueries({ queryKey: ["ws"] });
  };
  const grant = useMutation({
    mutationFn: (slug: string) => call(api.POST("/console/api/model-endpoints/{endpoint_id}/grants", { params: { path: { endpoint_id: endpoint.id } }, body: { workspace: slug } })),
    onSuccess: done,
  });
  const revoke = useMutation({
    mutationFn: (slug: string) => call(api.DELETE("/console/api/model-endpoints/{endpoint_id}/grants/{slug}", { params: { path: { endpoint_id: endpoint.id, slug } } })),
    onSuccess: done,
  });
  return (
    <Select
      mode="multiple"
      size="small"
      style={{ minWidth: 200 }}
      value={endpoint.workspaces}
      placeholder={t("admin.endpoints.noGrants")}
      loading={grant.isPending || revoke.isPending}
      options={(workspaces.data ?? []).map((w) => ({ value: w.slug, label: w.name }))}
      onSelect={(slug: string) => grant.mutate(slug)}
      onDeselect={(slug: string) => revoke.mutate(slug)}
      aria-label={t("admin.endpoints.grants")}
    />
  );
}

function EndpointsTab() {
  const { t } = useTranslation();
  const endpoints = useEndpoints();
  const client = useQueryClient();
  const [editing, setEditing] = useState<Endpoint | null>(null);
  const [creating, setCreating] = useState(false);
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/model-endpoints/{endpoint_id}", { params: { path: { endpoint_id: id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["admin", "endpoints"] }),
  });
  const add = (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="add-endpoint">
      {t("admin.endpoints.add")}
    </Button>
  );
  return (
    <Card size="small" title={t("admin.endpoints.title")} extra={add}>
      <QueryState query={endpoints}>
        <Table<Endpoint>
          rowKey="id"
          dataSource={endpoints.data ?? []}
          pagination={false}
          scroll={{ x: 1000 }}
          locale={{ emptyText: <EmptyState title={t("admin.endpoints.empty")} hint={t("admin.endpoints.emptyHint")} action={add} /> }}
          columns={[
            {
              title: t("admin.endpoints.name"),
              dataIndex: "name",
              render: (name: string, e) => (
                <Space direction="vertical" size={0}>
                  <Space size={4}>
                    <Typography.Text strong>{name}</Typography.Text>
                    {!e.enabled && <Tag>{t("admin.endpoints.disabled")}</Tag>}
                  </Space>
                  <Typography.Text type="secondary">{e.provider} · {e.upstream_model}</Typography.Text>
                </Space>
              ),
            },
            { title: t("models.capabilities"), dataIndex: "capabilities", render: (c: string[]) => <CapabilityTags capabilities={c} /> },
            { title: t("admin.endpoints.grants"), render: (_, e) => <GrantsCell endpoint={e} /> },
            {
              title: "",
              align: "right",
              render: (_, e) => (
                <Space>
                  <TestButton endpoint={e} />
                  <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(e)} aria-label={t("admin.edit")} />
                  <Popconfirm title={t("admin.endpoints.deleteConfirm", { name: e.name })} okButtonProps={{ danger: true }} onConfirm={() => remove.mutateAsync(e.id)}>
                    <Button size="small" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} />
                  </Popconfirm>
                </Space>
              ),
            },
          ]}
        />
      </QueryState>
      <EndpointDrawer open={creating || editing !== null} editing={editing} onClose={() => { setCreating(false); setEditing(null); }} />
    </Card>
  );
}

function WorkspacesTab() {
  const { t } = useTranslation();
  const workspaces = useAllWorkspaces();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const [form] = Form.useForm<{ name: string; slug?: string }>();
  const create = useMutation({
    mutationFn: (v: { name: string; slug?: string }) => call(api.POST("/console/api/workspaces", { body: { name: v.name, slug: v.slug || null } })),
    meta: { silent: true },
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["workspaces"] });
      form.resetFields();
      setOpen(false);
    },
  });
  const add = (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => setOpen(true)}>
      {t("admin.workspaces.add")}
    </Button>
  );
  return (
    <Card size="small" title={t("admin.workspaces.title")} extra={add}>
      <QueryState query={workspaces}>
        <Table
          rowKey="id"
          dataSource={workspaces.data ?? []}
          pagination={false}
          locale={{ emptyText: <EmptyState title={t("admin.workspaces.empty")} action={add} /> }}
          columns={[
            { title: t("admin.workspaces.name"), dataIndex: "name" },
            { title: t("admin.workspaces.slug"), dataIndex: "slug", render: (s: string) => <Typography.Text code>{s}</Typography.Text> },
            { title: t("admin.workspaces.created"), dataIndex: "created_at", render: (v: string) => new Date(v).toLocaleString() },
          ]}
        />
      </QueryState>
      <Modal open={open} title={t("admin.workspaces.add")} onCancel={() => setOpen(false)} onOk={() => form.submit()} confirmLoading={create.isPending} okText={t("common.create")} destroyOnHidden>
        <Form form={form} layout="vertical" onFinish={(v) => create.mutate(v)}>
          {create.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={create.error} /></div> : null}
          <Form.Item name="name" label={t("admin.workspaces.name")} rules={[{ required: true }]}>
            <Input />
          </Form.Item>
          <Form.Item name="slug" label={t("admin.workspaces.slug")} extra={t("admin.workspaces.slugHint")}>
            <Input placeholder="acme" />
          </Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}

type QuotaForm = { workspace: string; model?: string | null } & Partial<Record<(typeof LIMITS)[number], number | null>>;

function QuotasTab() {
  const { t } = useTranslation();
  const workspaces = useAllWorkspaces();
  const endpoints = useEndpoints();
  const client = useQueryClient();
  const [workspace, setWorkspace] = useState<string | undefined>();
  const [editing, setEditing] = useState<Quota | "new" | null>(null);
  const [form] = Form.useForm<QuotaForm>();
  const quotas = useQuery({
    queryKey: ["admin", "quotas", workspace],
    queryFn: () => call(api.GET("/console/api/quotas", { params: { query: { workspace: workspace ?? null } } })),
  });
  const done = () => {
    void client.invalidateQueries({ queryKey: ["admin", "quotas"] });
    void client.invalidateQueries({ queryKey: ["ws"] });
  };
  const save = useMutation({
    mutationFn: (v: QuotaForm) => {
      const limits = Object.fromEntries(LIMITS.map((name) => [name, v[name] ?? null]));
      return editing && editing !== "new"
        ? call(api.PATCH("/console/api/quotas/{quota_id}", { params: { path: { quota_id: String(editing.id) } }, body: limits }))
        : call(api.POST("/console/api/quotas", { body: { workspace: v.workspace, model: v.model || null, ...limits } }));
    },
    meta: { silent: true },
    onSuccess: () => {
      done();
      setEditing(null);
    },
  });
  const remove = useMutation({
    mutationFn: (id: number) => call(api.DELETE("/console/api/quotas/{quota_id}", { params: { path: { quota_id: String(id) } } })),
    onSuccess: done,
  });
  const open = (quota: Quota | "new") => {
    save.reset();
    form.setFieldsValue(quota === "new" ? { workspace, model: null, ...Object.fromEntries(LIMITS.map((l) => [l, null])) } : quota);
    setEditing(quota);
  };
  const add = (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => open("new")}>
      {t("admin.quotas.add")}
    </Button>
  );
  return (
    <Card
      size="small"
      title={t("admin.quotas.title")}
      extra={
        <Space>
          <Select allowClear placeholder={t("admin.quotas.allWorkspaces")} style={{ width: 200 }} value={workspace} onChange={setWorkspace} options={(workspaces.data ?? []).map((w) => ({ value: w.slug, label: w.name }))} />
          {add}
        </Space>
      }
    >
      <QueryState query={quotas}>
        <Table<Quota>
          rowKey="id"
          size="small"
          dataSource={quotas.data ?? []}
          pagination={false}
          scroll={{ x: 900 }}
          locale={{ emptyText: <EmptyState title={t("admin.quotas.empty")} hint={t("admin.quotas.emptyHint")} action={add} /> }}
          columns={[
            { title: t("admin.quotas.workspace"), dataIndex: "workspace", render: (s: string) => <Typography.Text code>{s}</Typography.Text> },
            { title: t("admin.quotas.model"), dataIndex: "model", render: (m: string | null) => m ?? <Tag>{t("usage.quotas.allModels")}</Tag> },
            ...LIMITS.map((name) => ({
              title: t(`usage.quotas.limits.${name}`),
              dataIndex: name,
              align: "right" as const,
              render: (v: number | null) => (v === null ? "—" : v.toLocaleString()),
            })),
            {
              title: "",
              align: "right" as const,
              render: (_: unknown, q: Quota) => (
                <Space>
                  <Button size="small" icon={<EditOutlined />} onClick={() => open(q)} aria-label={t("admin.edit")} />
                  <Popconfirm title={t("admin.quotas.deleteConfirm")} okButtonProps={{ danger: true }} onConfirm={() => remove.mutateAsync(q.id)}>
                    <Button size="small" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} />
                  </Popconfirm>
                </Space>
              ),
            },
          ]}
        />
      </QueryState>
      <Modal open={editing !== null} title={editing === "new" ? t("admin.quotas.add") : t("admin.quotas.edit")} onCancel={() => setEditing(null)} onOk={() => form.submit()} confirmLoading={save.isPending} forceRender>
        <Form form={form} layout="vertical" onFinish={(v) => save.mutate(v)}>
          {save.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={save.error} /></div> : null}
          <Row gutter={12}>
            <Col span={12}>
              <Form.Item name="workspace" label={t("admin.quotas.workspace")} rules={[{ required: true }]}>
                <Select disabled={editing !== "new"} options={(workspaces.data ?? []).map((w) => ({ value: w.slug, label: w.name }))} />
              </Form.Item>
            </Col>
            <Col span={12}>
              <Form.Item name="model" label={t("admin.quotas.model")}>
                <Select
                  disabled={editing !== "new"}
                  options={[{ value: null, label: t("usage.quotas.allModels") }, ...(endpoints.data ?? []).map((e) => ({ value: e.name, label: e.name }))]}
                />
              </Form.Item>
            </Col>
            {LIMITS.map((name) => (
              <Col span={12} key={name}>
                <Form.Item name={name} label={t(`usage.quotas.limits.${name}`)}>
                  <InputNumber min={0} style={{ width: "100%" }} placeholder={t("admin.quotas.unlimited")} />
                </Form.Item>
              </Col>
            ))}
          </Row>
        </Form>
      </Modal>
    </Card>
  );
}

export function AdminPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  return (
    <>
      <PageHeader title={t("nav.admin")} subtitle={t("admin.subtitle")} />
      <Tabs
        activeKey={params.get("tab") ?? "endpoints"}
        onChange={(key) => setParams({ tab: key }, { replace: true })}
        items={[
          { key: "endpoints", label: t("admin.tabs.endpoints"), children: <EndpointsTab /> },
          { key: "groups", label: t("admin.tabs.groups"), children: <ModelGroupsTab /> },
          { key: "workspaces", label: t("admin.tabs.workspaces"), children: <WorkspacesTab /> },
          { key: "quotas", label: t("admin.tabs.quotas"), children: <QuotasTab /> },
        ]}
      />
    </>
  );
}

