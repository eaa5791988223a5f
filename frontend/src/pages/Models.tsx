// Model endpoints granted to the workspace (GET /console/api/models: the models it may call,
// by name), and a playground that chats with one of them (streamed through
// POST /console/api/models/chat, metered like any call).
import { ClearOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Col, Empty, Form, Input, InputNumber, Row, Select, Slider, Space, Table, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { api, call, type Schemas } from "../api/client";
import { ErrorAlert, QueryState } from "../components/feedback";
import { ChatComposer } from "../components/ChatComposer";
import { ChatTranscript } from "../components/ChatTranscript";
import { useStreamedTurns } from "../components/useStreamedTurns";
import { PageHeader } from "../components/PageHeader";
import { useWorkspace, useWsKey } from "../session/workspace";

export type WorkspaceModel = Schemas["WorkspaceModelOut"];

const CAPABILITY_COLORS: Record<string, string> = { chat: "blue", embedding: "green", rerank: "orange", tool_calls: "purple" };

/** The model endpoints granted to the workspace (GET /models), shared by every page that picks one. */
export function useModels() {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("models"), queryFn: () => call(api.GET("/console/api/models")) });
}

export function CapabilityTags({ capabilities }: { capabilities: string[] }) {
  const { t } = useTranslation();
  return (
    <Space size={4} wrap>
      {capabilities.map((c) => (
        <Tag key={c} color={CAPABILITY_COLORS[c]}>
          {t(`models.capability.${c}` as "models.capability.chat", { defaultValue: c })}
        </Tag>
      ))}
    </Space>
  );
}

/** What to do without a chat model: the same ways `ministudio up` and the start page give. */
export function NoChatModelGuidance() {
  const { t } = useTranslation();
  return (
    <Alert
      type="info"
      showIcon
      data-testid="no-chat-model"
      message={t("models.noChat.title")}
      description={
        <ol style={{ margin: "4px 0 0", paddingLeft: 20 }}>
          {(["dashscope", "openai", "local", "admin"] as const).map((way) => (
            <li key={way}>{t(`models.noChat.${way}`)}</li>
          ))}
        </ol>
      }
    />
  );
}

interface Turn {
  role: "user" | "assistant";
  content: string;
  error?: string;
  usage?: { input_tokens: number; output_tokens: number } | null;
}

function Playground({ models, initial }: { models: WorkspaceModel[]; initial: string | undefined }) {
  const { t } = useTranslation();
  const [model, setModel] = useState<string | undefined>(initial);
  const [system, setSystem] = useState("");
  const [temperature, setTemperature] = useState<number | null>(null);
  const [maxTokens, setMaxTokens] = useState<number | null>(null);
  const { turns, setTurns, busy, updateLast, stream, stop } = useStreamedTurns<Turn>();
  const [input, setInput] = useState("");

  useEffect(() => setModel((current) => current ?? initial), [initial]);

  const send = async () => {
    const text = input.trim();
    if (!text || !model || busy) return;
    const history = [...turns.filter((turn) => !turn.error), { role: "user" as const, content: text }];
    setTurns([...history, { role: "assistant", content: "" }]);
    setInput("");
    await stream(
      "/console/api/models/chat",
      {
        model,
        messages: [...(system.trim() ? [{ role: "system", content: system.trim() }] : []), ...history],
        ...(temperature !== null ? { temperature } : {}),
        ...(maxTokens ? { max_tokens: maxTokens } : {}),
        stream: true,
      },
      ({ event, data }) => {
        const payload = data as { text?: string; message?: string; usage?: Turn["usage"] };
        if (event === "text") updateLast((turn) => ({ ...turn, content: turn.content + (payload.text ?? "") }));
        else if (event === "done") updateLast((turn) => ({ ...turn, usage: payload.usage ?? null }));
        else if (event === "error") updateLast((turn) => ({ ...turn, error: payload.message ?? "error" }));
      },
    );
  };

  const chatModels = models.filter((m) => m.capabilities.includes("chat"));
  return (
    <Card title={t("models.playground.title")} size="small">
      <Row gutter={16}>
        <Col xs={24} lg={7}>
          <Form layout="vertical" size="small">
            <Form.Item label={t("models.playground.model")}>
              <Select
                value={model}
                onChange={setModel}
                options={chatModels.map((m) => ({ value: m.name, label: m.display_name || m.name }))}
                data-testid="playground-model"
              />
            </Form.Item>
            <Form.Item label={t("models.playground.system")}>
              <Input.TextArea rows={4} value={system} onChange={(e) => setSystem(e.target.value)} placeholder={t("models.playground.systemPlaceholder")} />
            </Form.Item>
            <Form.Item label={`${t("models.playground.temperature")}${temperature === null ? ` (${t("models.playground.default")})` : `: ${temperature}`}`}>
              <Slider min={0} max={2} step={0.1} value={temperature ?? 0.7} onChange={(v) => setTemperature(v)} />
            </Form.Item>
            <Form.Item label={t("models.playground.maxTokens")}>
              <InputNumber min={1} max={32768} value={maxTokens} onChange={(v) => setMaxTokens(v)} style={{ width: "100%" }} placeholder={t("models.playground.default")} />
            </Form.Item>
          </Form>
        </Col>
        <Col xs={24} lg={17}>
          <ChatTranscript height={380} follow={turns} empty={turns.length === 0 ? t("models.playground.empty") : null}>
            {turns.map((turn, index) => (
              <div key={index} style={{ display: "flex", flexDirection: "column" }}>
                <div className={`chat-bubble ${turn.role}`} data-testid={`turn-${turn.role}`}>
                  {turn.content || (busy && index === turns.length - 1 ? "…" : "")}
                </div>
                {turn.error && <Alert style={{ marginTop: 4, maxWidth: "80%" }} type="error" showIcon message={turn.error} />}
                {turn.usage && (
                  <Typography.Text type="secondary" style={{ fontSize: 12, marginTop: 2 }}>
                    {t("models.playground.usage", { input: turn.usage.input_tokens, output: turn.usage.output_tokens })}
                  </Typography.Text>
                )}
              </div>
            ))}
          </ChatTranscript>
          <ChatComposer
            value={input}
            onChange={setInput}
            onSend={() => void send()}
            onStop={stop}
            busy={busy}
            disabled={!model}
          />
          <Button type="link" size="small" icon={<ClearOutlined />} onClick={() => setTurns([])} disabled={busy || !turns.length}>
            {t("models.playground.clear")}
          </Button>
        </Col>
      </Row>
    </Card>
  );
}

/** How long the response cache keeps a model's deterministic answers, in seconds (0: off). */
const CACHE_CHOICES = [0, 300, 3600, 86400, 604800] as const;

/** The response cache of one chat model: a choice for workspace admins, a label for others. */
function ResponseCacheSetting({ model }: { model: WorkspaceModel }) {
  const { t } = useTranslation();
  const { can } = useWorkspace();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: (seconds: number) =>
      call(
        api.PATCH("/console/api/models/{name}/settings", {
          params: { path: { name: model.name } },
          body: { response_cache_seconds: seconds },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: wsKey("models") }),
  });
  if (!model.capabilities.includes("chat")) return <>—</>;
  const label = (seconds: number) => t(`models.cache.choice.${seconds}` as "models.cache.choice.0", { defaultValue: t("models.cache.seconds", { n: seconds }) });
  if (!can("configureModels")) return <>{label(model.response_cache_seconds)}</>;
  const choices: number[] = CACHE_CHOICES.includes(model.response_cache_seconds as (typeof CACHE_CHOICES)[number])
    ? [...CACHE_CHOICES]
    : [...CACHE_CHOICES, model.response_cache_seconds];
  return (
    <Space direction="vertical" size={2}>
      <Select<number>
        size="small"
        style={{ minWidth: 120 }}
        aria-label={t("models.cache.title")}
        data-testid={`response-cache-${model.name}`}
        value={model.response_cache_seconds}
        loading={save.isPending}
        onChange={(seconds) => save.mutate(seconds)}
        options={choices.map((seconds) => ({ value: seconds, label: label(seconds) }))}
      />
      {save.error ? <ErrorAlert error={save.error} /> : null}
    </Space>
  );
}

export function ModelsPage() {
  const { t } = useTranslation();
  const models = useModels();
  const [selected, setSelected] = useState<string | undefined>();
  const list = models.data ?? [];
  const chat = list.filter((m) => m.capabilities.includes("chat"));
  const defaultChat = selected ?? (chat.find((m) => m.is_default) ?? chat[0])?.name;
  return (
    <>
      <PageHeader title={t("nav.models")} subtitle={t("models.subtitle")} />
      <QueryState query={models}>
        <Space direction="vertical" size={16} style={{ width: "100%" }}>
          {!chat.length && <NoChatModelGuidance />}
          <Card size="small">
            <Table<WorkspaceModel>
              rowKey="name"
              dataSource={list}
              pagination={false}
              size="middle"
              scroll={{ x: 800 }}
              locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("models.empty")} /> }}
              columns={[
                {
                  title: t("models.name"),
                  dataIndex: "name",
                  render: (name: string, m) => (
                    <Space direction="vertical" size={0}>
                      <Typography.Text strong copyable>{name}</Typography.Text>
                      {m.display_name && m.display_name !== name && <Typography.Text type="secondary">{m.display_name}</Typography.Text>}
                    </Space>
                  ),
                },
                {
                  title: t("models.capabilities"),
                  dataIndex: "capabilities",
                  render: (caps: string[], m) => (
                    <Space size={4} wrap>
                      <CapabilityTags capabilities={caps} />
                      {m.is_default && <Tag color="gold">{t("models.default")}</Tag>}
                    </Space>
                  ),
                },
                {
                  title: t("models.context"),
                  render: (_, m) => (m.context_window ? m.context_window.toLocaleString() : m.embedding_dimension ? t("models.dimensions", { n: m.embedding_dimension }) : "—"),
                },
                {
                  title: t("models.price"),
                  render: (_, m) => `${m.price_input_per_1k} / ${m.price_output_per_1k}`,
                },
                {
                  title: (
                    <Space size={4}>
                      {t("models.cache.title")}
                      <Typography.Text type="secondary" style={{ fontWeight: "normal" }}>
                        {t("models.cache.hint")}
                      </Typography.Text>
                    </Space>
                  ),
                  render: (_, m) => <ResponseCacheSetting model={m} />,
                },
                {
                  title: "",
                  align: "right",
                  render: (_, m) =>
                    m.capabilities.includes("chat") ? (
                      <Button size="small" onClick={() => setSelected(m.name)}>
                        {t("models.try")}
                      </Button>
                    ) : null,
                },
              ]}
            />
          </Card>
          {chat.length > 0 ? <Playground key={defaultChat} models={list} initial={defaultChat} /> : null}
          {models.error ? <ErrorAlert error={models.error} /> : null}
        </Space>
      </QueryState>
    </>
  );
}
