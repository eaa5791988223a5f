// The playground's trace: each node run, in order, collapsible to its details.
import { Collapse, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { NodeRunDetail, StatusTag } from "./NodeRunDetail";
import type { RunTrace } from "./runState";

export function TraceList({ trace }: { trace: RunTrace }) {
  const { t } = useTranslation();
  if (!trace.entries.length) return null;
  return (
    <Collapse
      size="small"
      data-testid="trace"
      items={[
        {
          key: "trace",
          label: t("workflow.run.trace", { count: trace.entries.length }),
          children: (
            <Collapse
              size="small"
              items={trace.entries.map((run, index) => ({
                key: String(index),
                label: (
                  <Space data-testid={`trace-${run.node_id}`}>
                    <StatusTag status={run.status} />
                    <Typography.Text strong>{run.title || run.node_id}</Typography.Text>
                    <Typography.Text code>{run.node_id}</Typography.Text>
                    {run.latency_ms !== null && <Typography.Text type="secondary">{run.latency_ms} ms</Typography.Text>}
                  </Space>
                ),
                children: <NodeRunDetail run={run} />,
              }))}
            />
          ),
        },
      ]}
    />
  );
}
