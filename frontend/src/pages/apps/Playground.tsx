// The playground: chat with the saved draft (POST /apps/{id}/playground, server-sent
// `thought` / `text` / `done` / `error`), in one session until "new conversation".
// Answers show their thoughts (retrieval passages, tool calls) and render `<ref>[n]</ref>`
// as badges that open doc_references[n-1].
import { ClearOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Col, Collapse, Form, Input, Row, Space, Tag, Typography } from "antd";
import { Fragment, useState } from "react";
import { useTranslation } from "react-i18next";
import { ChatComposer } from "../../components/ChatComposer";
import { ChatTranscript } from "../../components/ChatTranscript";
import { useStreamedTurns } from "../../components/useStreamedTurns";
import { citedNumbers, promptVariables, splitCitations, withoutPartialMarker } from "./citations";
import { normalizeConfig, type App } from "./model";

export interface DocReference {
  index_id: string;
  doc_name: string;
  title?: string;
  text: string;
  page_number?: number[];
}

export interface ThoughtData {
  action_type?: string;
  action?: string;
  action_input?: unknown;
  action_input_stream?: string;
  observation?: string;
  thought?: string;
}

interface Turn {
  role: "user" | "assistant";
  content: string;
  thoughts: ThoughtData[];
  references: DocReference[];
  error?: string;
  usage?: { model_id: string; input_tokens: number; output_tokens: number }[];
}

/** The answer's text with citation markers as clickable superscript badges. */
export function AnswerText({ text, references, onCite, streaming }: { text: string; references: DocReference[]; onCite: (n: number) => void; streaming?: boolean }) {
  const shown = streaming ? withoutPartialMarker(text) : text;
  return (
    <>
      {splitCitations(shown).map((segment, index) =>
        segment.type === "text" ? (
          <Fragment key={index}>{segment.text}</Fragment>
        ) : (
          <button
            key={index}
            type="button"
            className="cite-badge"
            data-testid="cite-badge"
            title={references[segment.n - 1]?.doc_name}
            onClick={() => onCite(segment.n)}
          >
            [{segment.n}]
          </button>
        ),
      )}
    </>
  );
}

function Json({ value }: { value: unknown }) {
  let shown = value;
  if (typeof value === "string") {
    try {
      shown = JSON.parse(value);
    } catch {
      return <pre className="json-block">{value}</pre>;
    }
  }
  return <pre className="json-block">{JSON.stringify(shown, null, 2)}</pre>;
}

function ThoughtList({ thoughts }: { thoughts: ThoughtData[] }) {
  const { t } = useTranslation();
  if (!thoughts.length) return null;
  return (
    <Collapse
      size="small"
      style={{ maxWidth: "80%", marginBottom: 4 }}
      items={[
        {
          key: "thoughts",
          label: t("apps.playground.thoughts", { count: thoughts.length }),
          children: (
            <Space direction="vertical" style={{ width: "100%" }} data-testid="thoughts">
              {thoughts.map((thought, index) => {
                if (thought.action_type === "agentRag") {
                  let passages: DocReference[] = [];
                  try {
                    passages = JSON.parse(thought.observation ?? "[]") as DocReference[];
                  } catch {
                    passages = [];
                  }
                  return (
                    <div key={index}>
                      <Tag color="green">{t("apps.playground.retrieval")}</Tag>
                      <Typography.Text type="secondary">{thought.action_input_stream}</Typography.Text>
                      {passages.length === 0 && <Typography.Paragraph type="secondary">{t("apps.playground.noPassages")}</Typography.Paragraph>}
                      {passages.map((p) => (
                        <Typography.Paragraph key={p.index_id} style={{ fontSize: 12, margin: "4px 0" }} ellipsis={{ rows: 3, expandable: true }}>
                          <b>[{p.index_id}] {p.doc_name}</b> — {p.text}
                        </Typography.Paragraph>
                      ))}
                    </div>
                  );
                }
                return (
                  <div key={index}>
                    <Tag color="purple">{t("apps.playground.toolCall")}</Tag>
                    <Typography.Text code>{thought.action}</Typography.Text>
                    {thought.thought && <Typography.Paragraph type="secondary" style={{ margin: "4px 0" }}>{thought.thought}</Typography.Paragraph>}
                    <Row gutter={8} style={{ marginTop: 4 }}>
                      <Col span={12}>
                        <Typography.Text type="secondary">{t("apps.playground.input")}</Typography.Text>
                        <Json value={thought.action_input ?? thought.action_input_stream} />
                      </Col>
                      <Col span={12}>
                        <Typography.Text type="secondary">{t("apps.playground.observation")}</Typography.Text>
                        <Json value={thought.observation} />
                      </Col>
                    </Row>
                  </div>
                );
              })}
            </Space>
          ),
        },
      ]}
    />
  );
}

function References({ turnIndex, references, text, open, highlight, onOpenChange }: { turnIndex: number; references: DocReference[]; text: string; open: boolean; highlight: number | null; onOpenChange: (open: boolean) => void }) {
  const { t } = useTranslation();
  if (!references.length) return null;
  const cited = new Set(citedNumbers(text));
  return (
    <Collapse
      size="small"
      style={{ maxWidth: "80%", marginTop: 4 }}
      activeKey={open ? ["refs"] : []}
      onChange={(keys) => onOpenChange(keys.includes("refs"))}
      items={[
        {
          key: "refs",
          label: t("apps.playground.sources", { count: references.length }),
          children: (
            <Space direction="vertical" style={{ width: "100%" }} data-testid="references">
              {references.map((ref, i) => (
                <div key={i} id={`ref-${turnIndex}-${i + 1}`} className={`reference${highlight === i + 1 ? " highlight" : ""}`} style={{ padding: 4 }}>
                  <Space size={4} wrap>
                    <Tag color={cited.has(i + 1) ? "purple" : undefined}>[{i + 1}]</Tag>
                    <Typography.Text strong>{ref.doc_name}</Typography.Text>
                    {ref.page_number?.length ? <Typography.Text type="secondary">{t("kb.page", { n: ref.page_number.join(", ") })}</Typography.Text> : null}
                  </Space>
                  <Typography.Paragraph style={{ fontSize: 12, margin: "4px 0 0" }} ellipsis={{ rows: 4, expandable: true }}>
                    {ref.text}
                  </Typography.Paragraph>
                </div>
              ))}
            </Space>
          ),
        },
      ]}
    />
  );
}

export function PlaygroundTab({ app, dirty }: { app: App; dirty: boolean }) {
  const { t } = useTranslation();
  const config = normalizeConfig(app.draft);
  const variableNames = Array.from(new Set([...promptVariables(config.system_prompt), ...(config.variables ?? []).map((v) => v.name)]));
  const [variables, setVariables] = useState<Record<string, string>>({});
  const { turns, setTurns, busy, updateLast, stream, stop } = useStreamedTurns<Turn>();
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [input, setInput] = useState("");
  const [openRefs, setOpenRefs] = useState<Record<number, boolean>>({});
  const [highlight, setHighlight] = useState<{ turn: number; n: number } | null>(null);

  const cite = (turn: number, n: number) => {
    setOpenRefs((all) => ({ ...all, [turn]: true }));
    setHighlight({ turn, n });
    setTimeout(() => document.getElementById(`ref-${turn}-${n}`)?.scrollIntoView?.({ behavior: "smooth", block: "nearest" }), 250);
  };

  const send = async () => {
    const text = input.trim();
    if (!text || busy) return;
    setTurns((all) => [...all, { role: "user", content: text, thoughts: [], references: [] }, { role: "assistant", content: "", thoughts: [], references: [] }]);
    setInput("");
    const filled = Object.fromEntries(Object.entries(variables).filter(([, v]) => v !== ""));
    await stream(`/console/api/apps/${app.id}/playground`, { prompt: text, session_id: sessionId, variables: filled, stream: true }, ({ event, data }) => {
      const payload = data as { text?: string; message?: string; session_id?: string; doc_references?: DocReference[]; usage?: { models?: Turn["usage"] } };
      if (event === "text") updateLast((turn) => ({ ...turn, content: turn.content + (payload.text ?? "") }));
      else if (event === "thought") updateLast((turn) => ({ ...turn, thoughts: [...turn.thoughts, data as ThoughtData] }));
      else if (event === "done") {
        if (payload.session_id) setSessionId(payload.session_id);
        updateLast((turn) => ({ ...turn, content: payload.text ?? turn.content, references: payload.doc_references ?? [], usage: payload.usage?.models }));
      } else if (event === "error") updateLast((turn) => ({ ...turn, error: payload.message ?? "error" }));
    });
  };

  const reset = () => {
    stop();
    setTurns([]);
    setSessionId(null);
    setOpenRefs({});
    setHighlight(null);
  };

  return (
    <Card size="small">
      <Row gutter={16}>
        {variableNames.length > 0 && (
          <Col xs={24} lg={6}>
            <Typography.Text strong>{t("apps.playground.variables")}</Typography.Text>
            <Form layout="vertical" size="small" style={{ marginTop: 8 }}>
              {variableNames.map((name) => {
                const declared = config.variables?.find((v) => v.name === name);
                return (
                  <Form.Item key={name} label={`{{${name}}}`} required={declared?.required} extra={declared?.description || undefined}>
                    <Input value={variables[name] ?? ""} placeholder={declared?.default ?? undefined} onChange={(e) => setVariables((all) => ({ ...all, [name]: e.target.value }))} data-testid={`var-${name}`} />
                  </Form.Item>
                );
              })}
            </Form>
          </Col>
        )}
        <Col xs={24} lg={variableNames.length > 0 ? 18 : 24}>
          {dirty && <Alert type="warning" showIcon style={{ marginBottom: 8 }} message={t("apps.playground.unsaved")} />}
          <ChatTranscript height={460} follow={turns.length} empty={turns.length === 0 ? t("apps.playground.empty") : null}>
            {turns.map((turn, index) => (
              <div key={index} style={{ display: "flex", flexDirection: "column" }}>
                {turn.role === "assistant" && <ThoughtList thoughts={turn.thoughts} />}
                <div className={`chat-bubble ${turn.role}`} data-testid={`app-turn-${turn.role}`}>
                  {turn.role === "assistant" ? (
                    turn.content ? (
                      <AnswerText text={turn.content} references={turn.references} onCite={(n) => cite(index, n)} streaming={busy && index === turns.length - 1} />
                    ) : busy && index === turns.length - 1 ? (
                      "…"
                    ) : null
                  ) : (
                    turn.content
                  )}
                </div>
                {turn.error && <Alert style={{ marginTop: 4, maxWidth: "80%" }} type="error" showIcon message={turn.error} />}
                <References
                  turnIndex={index}
                  references={turn.references}
                  text={turn.content}
                  open={Boolean(openRefs[index])}
                  highlight={highlight?.turn === index ? highlight.n : null}
                  onOpenChange={(open) => setOpenRefs((all) => ({ ...all, [index]: open }))}
                />
                {turn.usage?.length ? (
                  <Typography.Text type="secondary" style={{ fontSize: 12, marginTop: 2 }}>
                    {turn.usage.map((u) => t("apps.playground.usage", { model: u.model_id, input: u.input_tokens, output: u.output_tokens })).join(" · ")}
                  </Typography.Text>
                ) : null}
              </div>
            ))}
          </ChatTranscript>
          <ChatComposer
            value={input}
            onChange={setInput}
            onSend={() => void send()}
            onStop={stop}
            busy={busy}
            inputTestId="app-input"
            sendTestId="app-send"
          />
          <Space style={{ marginTop: 4 }}>
            <Button type="link" size="small" icon={<ClearOutlined />} onClick={reset} disabled={!turns.length}>
              {t("apps.playground.newConversation")}
            </Button>
            {sessionId && (
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t("apps.playground.session", { id: sessionId })}
              </Typography.Text>
            )}
          </Space>
        </Col>
      </Row>
    </Card>
  );
}
