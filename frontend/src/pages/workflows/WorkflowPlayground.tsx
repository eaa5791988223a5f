// The playground of a workflow app: the saved draft runs (POST /apps/{id}/playground, SSE)
// with the prompt and the start node's variables; `node_started` / `node_finished` light
// the canvas node by node and fill the trace; a run a human-input node paused (`done`'s
// `waiting_for`) shows its question, and the answer resumes it (the next run's prompt, same
// session).
import { ClearOutlined, UserOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Col, Input, Row, Space, Typography } from "antd";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { ChatComposer } from "../../components/ChatComposer";
import { ChatTranscript } from "../../components/ChatTranscript";
import { useStreamedTurns } from "../../components/useStreamedTurns";
import type { App } from "../apps/model";
import { AnswerText, type DocReference } from "../apps/Playground";
import { normalizeDefinition } from "./definition";
import { NodeRunDetail } from "./NodeRunDetail";
import { RunCanvas } from "./RunCanvas";
import { applyRunEvent, EMPTY_TRACE, nodeStates, settle, type RunTrace } from "./runState";
import { inputValues, StartInputs, startVariables } from "./StartInputs";
import { TraceList } from "./TraceList";

interface Waiting {
  node_id: string;
  question: string;
}

interface Turn {
  role: "user" | "assistant";
  content: string;
  references: DocReference[];
  trace: RunTrace;
  waiting?: Waiting | null;
  error?: string;
  usage?: { model_id: string; input_tokens: number; output_tokens: number }[];
}

interface DonePayload {
  text?: string;
  session_id?: string;
  doc_references?: DocReference[];
  usage?: { models?: Turn["usage"] };
  waiting_for?: Waiting | null;
}

function HumanInput({ waiting, busy, onAnswer }: { waiting: Waiting; busy: boolean; onAnswer: (answer: string) => void }) {
  const { t } = useTranslation();
  const [answer, setAnswer] = useState("");
  return (
    <Alert
      type="warning"
      showIcon
      icon={<UserOutlined />}
      data-testid="human-input"
      message={t("workflow.run.waiting", { node: waiting.node_id })}
      description={
        <Space direction="vertical" style={{ width: "100%" }}>
          <Typography.Text strong>{waiting.question}</Typography.Text>
          <Space.Compact style={{ width: "100%" }}>
            <Input value={answer} onChange={(e) => setAnswer(e.target.value)} onPressEnter={() => answer.trim() && onAnswer(answer.trim())} data-testid="human-answer" />
            <Button type="primary" disabled={!answer.trim() || busy} onClick={() => onAnswer(answer.trim())} data-testid="human-send">
              {t("workflow.run.answer")}
            </Button>
          </Space.Compact>
        </Space>
      }
    />
  );
}

export function WorkflowPlayground({ app, dirty }: { app: App; dirty: boolean }) {
  const { t } = useTranslation();
  const definition = useMemo(() => normalizeDefinition(app.draft), [app.draft]);
  const variables = startVariables(definition.nodes.find((n) => n.type === "start" && !n.parent)?.data);
  const [values, setValues] = useState<Record<string, unknown>>({});
  const { turns, setTurns, busy, updateLast, stream, stop } = useStreamedTurns<Turn>();
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [input, setInput] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const last = [...turns].reverse().find((turn) => turn.role === "assistant");
  const trace = last?.trace ?? EMPTY_TRACE;
  const states = useMemo(() => nodeStates(trace), [trace]);
  const waiting = !busy ? last?.waiting ?? null : null;

  const send = async (text: string) => {
    if (!text || busy) return;
    setTurns((all) => [...all, { role: "user", content: text, references: [], trace: EMPTY_TRACE }, { role: "assistant", content: "", references: [], trace: EMPTY_TRACE }]);
    setInput("");
    setSelected(null);
    await stream(`/console/api/apps/${app.id}/playground`, { prompt: text, session_id: sessionId, variables: inputValues(variables, values), stream: true }, ({ event, data }) => {
      const payload = data as DonePayload & { message?: string };
      if (event === "node_started" || event === "node_finished") updateLast((turn) => ({ ...turn, trace: applyRunEvent(turn.trace, event, data) }));
      else if (event === "text") updateLast((turn) => ({ ...turn, content: turn.content + (payload.text ?? "") }));
      else if (event === "done") {
        if (payload.session_id) setSessionId(payload.session_id);
        updateLast((turn) => ({
          ...turn,
          content: payload.text ?? turn.content,
          references: payload.doc_references ?? [],
          usage: payload.usage?.models,
          waiting: payload.waiting_for ?? null,
          trace: settle(turn.trace),
        }));
      } else if (event === "error") updateLast((turn) => ({ ...turn, error: payload.message ?? "error", trace: settle(turn.trace) }));
    });
  };

  const reset = () => {
    stop();
    setTurns([]);
    setSessionId(null);
    setSelected(null);
  };

  const selectedRun = selected ? states[selected] : undefined;

  return (
    <Card size="small">
      <Row gutter={16}>
        <Col xs={24} xl={14}>
          <RunCanvas definition={definition} states={states} selected={selected} onSelect={setSelected} />
          <div style={{ marginTop: 8 }}>
            {selected && (
              <Card size="small" title={<Typography.Text code>{selected}</Typography.Text>} style={{ marginBottom: 8 }}>
                {selectedRun ? <NodeRunDetail run={selectedRun} /> : <Typography.Text type="secondary">{t("workflow.run.notRun")}</Typography.Text>}
              </Card>
            )}
            <TraceList trace={trace} />
          </div>
        </Col>
        <Col xs={24} xl={10}>
          {dirty && <Alert type="warning" showIcon style={{ marginBottom: 8 }} message={t("apps.playground.unsaved")} />}
          {variables.length > 0 && (
            <Card size="small" title={t("workflow.run.inputs")} style={{ marginBottom: 8 }}>
              <StartInputs variables={variables} values={values} onChange={setValues} />
            </Card>
          )}
          <ChatTranscript height={380} follow={turns.length} empty={turns.length === 0 ? t("workflow.run.empty") : null}>
            {turns.map((turn, index) => (
              <div key={index} style={{ display: "flex", flexDirection: "column" }}>
                <div className={`chat-bubble ${turn.role}`} data-testid={`app-turn-${turn.role}`}>
                  {turn.role === "assistant" ? (
                    turn.content ? (
                      <AnswerText text={turn.content} references={turn.references} onCite={() => undefined} streaming={busy && index === turns.length - 1} />
                    ) : busy && index === turns.length - 1 ? (
                      "…"
                    ) : null
                  ) : (
                    turn.content
                  )}
                </div>
                {turn.error && <Alert style={{ marginTop: 4, maxWidth: "80%" }} type="error" showIcon message={turn.error} />}
                {turn.usage?.length ? (
                  <Typography.Text type="secondary" style={{ fontSize: 12, marginTop: 2 }}>
                    {turn.usage.map((u) => t("apps.playground.usage", { model: u.model_id, input: u.input_tokens, output: u.output_tokens })).join(" · ")}
                  </Typography.Text>
                ) : null}
              </div>
            ))}
          </ChatTranscript>
          {waiting && <HumanInput waiting={waiting} busy={busy} onAnswer={(answer) => void send(answer)} />}
          <ChatComposer value={input} onChange={setInput} onSend={() => void send(input.trim())} onStop={stop} busy={busy} inputTestId="app-input" sendTestId="app-send" />
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
