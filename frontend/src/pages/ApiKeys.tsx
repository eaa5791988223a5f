// API keys: create (the secret is shown once, with a copy button and a ready-to-run
// snippet), list (masked), revoke.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, DatePicker, Form, Input, Modal, Popconfirm, Space, Tabs, Tag, Typography } from "antd";
import type { Dayjs } from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, call, type Schemas } from "../api/client";
import { CopyButton } from "../components/CopyButton";
import { EmptyState } from "../components/feedback";
import { ListPage } from "../components/ListPage";
import { useWorkspace, useWsKey } from "../session/workspace";
import { useModels } from "./Models";

type ApiKey = Schemas["ApiKeyOut"];

/** Ready-to-run snippets for a key against this platform: a chat call, or an embedding
 * call when the workspace has no chat model. */
export function snippets(key: string, model: string, origin: string, embedding = false): Record<"openai" | "dashscope" | "curl", string> {
  if (embedding) {
    return {
      openai: `from openai import OpenAI

client = OpenAI(base_url="${origin}/compatible-mode/v1", api_key="${key}")
vectors = client.embeddings.create(model="${model}", input=["知识库", "knowledge base"])
print(len(vectors.data[0].embedding))
`,
      dashscope: `import dashscope

dashscope.base_http_api_url = "${origin}/api/v1"
reply = dashscope.TextEmbedding.call(model="${model}", input=["知识库"], api_key="${key}")
print(len(reply.output["embeddings"][0]["embedding"]))
`,
      curl: `curl ${origin}/compatible-mode/v1/embeddings \\
  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\
  -d '{"model": "${model}", "input": ["知识库"]}'
`,
    };
  }
  return {
    openai: `from openai import OpenAI

client = OpenAI(base_url="${origin}/compatible-mode/v1", api_key="${key}")
reply = client.chat.completions.create(
    model="${model}", messages=[{"role": "user", "content": "你好"}]
)
print(reply.choices[0].message.content)
`,
    dashscope: `import dashscope

dashscope.base_http_api_url = "${origin}/api/v1"
reply = dashscope.Generation.call(model="${model}", prompt="你好", api_key="${key}")
print(reply.output.text)
`,
    curl: `curl ${origin}/compatible-mode/v1/chat/completions \\
  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\
  -d '{"model": "${model}", "messages": [{"role": "user", "content": "你好"}]}'
`,
  };
}

function CreatedKey({ created, onClose }: { created: Schemas["ApiKeyCreatedOut"] | null; onClose: () => void }) {
  const { t } = useTranslation();
  const models = useModels();
  const chat = (models.data ?? []).filter((m) => m.capabilities.includes("chat"));
  const embeddings = (models.data ?? []).filter((m) => m.capabilities.includes("embedding"));
  const useEmbedding = !chat.length && embeddings.length > 0;
  const pool = useEmbedding ? embeddings : chat;
  const model = (pool.find((m) => m.is_default) ?? pool[0])?.name ?? "qwen-plus";
  if (!created) return null;
  const code = snippets(created.key, model, window.location.origin, useEmbedding);
  return (
    <Modal open title={t("keys.created.title")} onCancel={onClose} footer={<Button type="primary" onClick={onClose}>{t("keys.created.done")}</Button>} width={720} maskClosable={false}>
      <Alert type="warning" showIcon message={t("keys.created.once")} style={{ marginBottom: 12 }} />
      <Space.Compact style={{ width: "100%" }}>
        <Input readOnly value={created.key} data-testid="new-key" style={{ fontFamily: "monospace" }} />
        <CopyButton text={created.key} label={t("common.copy")} />
      </Space.Compact>
      <Typography.Title level={5} style={{ marginTop: 16 }}>
        {t("keys.created.snippet")}
      </Typography.Title>
      <Tabs
        size="small"
        items={(["openai", "dashscope", "curl"] as const).map((kind) => ({
          key: kind,
          label: t(`keys.snippet.${kind}`),
          children: (
            <div style={{ position: "relative" }}>
              <pre style={{ background: "#f6f8fa", padding: 12, borderRadius: 6, overflowX: "auto", fontSize: 12, margin: 0 }}>{code[kind]}</pre>
              <div style={{ position: "absolute", top: 8, right: 8 }}>
                <CopyButton text={code[kind]} />
              </div>
            </div>
          ),
        }))}
      />
    </Modal>
  );
}

function CreateKeyModal({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (key: Schemas["ApiKeyCreatedOut"]) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ name: string; expires_at?: Dayjs }>();
  const create = useMutation({
    mutationFn: (v: { name: string; expires_at?: Dayjs }) =>
      call(api.POST("/console/api/api-keys", { body: { name: v.name, expires_at: v.expires_at ? v.expires_at.toISOString() : null } })),
    onSuccess: (key) => {
      onClose();
      form.resetFields();
      onCreated(key);
    },
  });
  return (
    <Modal open={open} title={t("keys.create")} onCancel={onClose} onOk={() => form.submit()} okText={t("common.create")} confirmLoading={create.isPending} destroyOnHidden>
      <Form form={form} layout="vertical" onFinish={(v) => create.mutate(v)}>
        <Form.Item name="name" label={t("keys.name")} rules={[{ required: true, message: t("keys.nameRequired") }, { max: 100 }]}>
          <Input autoFocus placeholder={t("keys.namePlaceholder")} />
        </Form.Item>
        <Form.Item name="expires_at" label={t("keys.expires")} extra={t("keys.expiresHint")}>
          <DatePicker style={{ width: "100%" }} disabledDate={(d) => d.isBefore(new Date(), "day")} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export function ApiKeysPage() {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const { can, me } = useWorkspace();
  const [created, setCreated] = useState<Schemas["ApiKeyCreatedOut"] | null>(null);
  const keys = useQuery({ queryKey: wsKey("api-keys"), queryFn: () => call(api.GET("/console/api/api-keys")), enabled: can("viewApiKeys") });
  const refresh = () => client.invalidateQueries({ queryKey: wsKey("api-keys") });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.POST("/console/api/api-keys/{api_key_id}/revoke", { params: { path: { api_key_id: id } } })),
    onSuccess: refresh,
  });
  if (!can("viewApiKeys")) return <EmptyState title={t("keys.notAllowed")} />;
  const mayRevoke = (key: ApiKey) => key.status === "active" && (can("revokeAnyApiKey") || key.created_by === me.user?.email);
  const onCreated = (key: Schemas["ApiKeyCreatedOut"]) => {
    setCreated(key);
    void refresh();
  };
  return (
    <ListPage<ApiKey>
      title={t("nav.apiKeys")}
      subtitle={t("keys.subtitle")}
      query={keys}
      create={can("createApiKeys") ? { label: t("keys.create"), dialog: (open, close) => <CreateKeyModal open={open} onClose={close} onCreated={onCreated} /> } : null}
      empty={{ title: t("keys.empty.title"), hint: t("keys.empty.hint") }}
      rowKey="id"
      scrollX={900}
      columns={[
        { title: t("keys.name"), dataIndex: "name" },
        { title: t("keys.key"), dataIndex: "masked", render: (v: string) => <Typography.Text code>{v}</Typography.Text> },
        {
          title: t("keys.status"),
          dataIndex: "status",
          render: (s: string) => <Tag color={s === "active" ? "success" : s === "revoked" ? "error" : "default"}>{t(`keys.statuses.${s}` as "keys.statuses.active", { defaultValue: s })}</Tag>,
        },
        { title: t("keys.createdBy"), dataIndex: "created_by", render: (v: string | null) => v ?? "—" },
        { title: t("keys.createdAt"), dataIndex: "created_at", render: (v: string) => new Date(v).toLocaleString() },
        { title: t("keys.lastUsed"), dataIndex: "last_used_at", render: (v: string | null) => (v ? new Date(v).toLocaleString() : t("keys.never")) },
        { title: t("keys.expires"), dataIndex: "expires_at", render: (v: string | null) => (v ? new Date(v).toLocaleDateString() : "—") },
        {
          title: "",
          align: "right",
          render: (_, key) =>
            mayRevoke(key) ? (
              <Popconfirm title={t("keys.revokeConfirm", { name: key.name })} okButtonProps={{ danger: true }} onConfirm={() => revoke.mutateAsync(key.id)}>
                <Button size="small" danger>
                  {t("keys.revoke")}
                </Button>
              </Popconfirm>
            ) : null,
        },
      ]}
    >
      <CreatedKey created={created} onClose={() => setCreated(null)} />
    </ListPage>
  );
}
