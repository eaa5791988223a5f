// One node run of the playground: status, time, tokens, error, inputs and outputs.
import { Descriptions, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { NodeRun, NodeStatus } from "./runState";

export const STATUS_COLORS: Record<NodeStatus, string> = { running: "processing", succeeded: "success", failed: "error", waiting: "warning" };

export function StatusTag({ status }: { status: NodeStatus }) {
  const { t } = useTranslation();
  return <Tag color={STATUS_COLORS[status]}>{t(`workflow.status.${status}`)}</Tag>;
}

function Json({ value }: { value: unknown }) {
  return <pre className="json-block">{value === null || value === undefined ? "—" : JSON.stringify(value, null, 2)}</pre>;
}

export function NodeRunDetail({ run }: { run: NodeRun }) {
  const { t } = useTranslation();
  return (
    <div data-testid="node-run-detail">
      <Descriptions size="small" column={2} bordered>
        <Descriptions.Item label={t("workflow.run.status")}>
          <StatusTag status={run.status} />
        </Descriptions.Item>
        <Descriptions.Item label={t("workflow.run.time")}>{run.latency_ms === null ? "—" : `${run.latency_ms} ms`}</Descriptions.Item>
        <Descriptions.Item label={t("workflow.run.tokens")} span={2}>
          {t("apps.runs.stepTokens", { input: run.input_tokens, output: run.output_tokens })}
        </Descriptions.Item>
        {run.error ? (
          <Descriptions.Item label={t("apps.runs.error")} span={2}>
            <Typography.Text type="danger">{run.error}</Typography.Text>
          </Descriptions.Item>
        ) : null}
      </Descriptions>
      <Typography.Text type="secondary" style={{ display: "block", marginTop: 6 }}>{t("apps.runs.input")}</Typography.Text>
      <Json value={run.inputs} />
      <Typography.Text type="secondary" style={{ display: "block", marginTop: 6 }}>{t("apps.runs.output")}</Typography.Text>
      <Json value={run.outputs} />
    </div>
  );
}
