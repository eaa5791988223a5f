// Runs of the app (playground and API), newest first, and one run's steps in a drawer.
import { useQuery } from "@tanstack/react-query";
import { Card, Descriptions, Drawer, List, Select, Space, Table, Tag, Timeline, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { api, call, type Schemas } from "../../api/client";
import { groupStepsByNode, isWorkflowRun } from "../workflows/steps";
import { EmptyState, QueryState } from "../../components/feedback";
import { useWsKey } from "../../session/workspace";
import { useApps, type App } from "./model";

type Run = Schemas["RunOut"];
type RunStatus = Schemas["RunStatus"];
const STATUS_COLORS: Record<string, string> = { succeeded: "green", failed: "red", cancelled: "default", waiting: "orange" };
const KIND_COLORS: Record<string, string> = { retrieval: "green", model: "blue", tool: "purple", node: "geekblue" };
const PAGE = 20;

/** A step as the API gives it, with the workflow node that took it (workflow runs). */
type Step = Schemas["StepOut"];
/** A sub-run: another app this run's agent delegated to. */
type ChildRun = Run;

function StepBody({ step }: { step: Step }) {
  const { t } = useTranslation();
  return (
    <div data-testid="run-step">
      <Space wrap>
        <Tag color={KIND_COLORS[step.kind]}>{t(`apps.runs.kinds.${step.kind}`, { defaultValue: step.kind })}</Tag>
        <Typography.Text strong>{step.name}</Typography.Text>
        <Typography.Text type="secondary">{step.latency_ms} ms</Typography.Text>
        {step.input_tokens + step.output_tokens > 0 && (
          <Typography.Text type="secondary">{t("apps.runs.stepTokens", { input: step.input_tokens, output: step.output_tokens })}</Typography.Text>
        )}
      </Space>
      {step.error && <Typography.Paragraph type="danger" style={{ margin: "4px 0" }}>{step.error}</Typography.Paragraph>}
      <Typography.Text type="secondary" style={{ display: "block", marginTop: 4 }}>{t("apps.runs.input")}</Typography.Text>
      <pre className="json-block">{JSON.stringify(step.input, null, 2)}</pre>
      <Typography.Text type="secondary" style={{ display: "block" }}>{t("apps.runs.output")}</Typography.Text>
      <pre className="json-block">{JSON.stringify(step.output, null, 2)}</pre>
    </div>
  );
}

function StepTimeline({ steps }: { steps: Step[] }) {
  return <Timeline items={steps.map((step) => ({ color: step.error ? "red" : KIND_COLORS[step.kind] ?? "gray", children: <StepBody step={step} /> }))} />;
}

/** A workflow run's steps, one card per node (its node step and the calls it made). */
function NodeGroups({ steps }: { steps: Step[] }) {
  const { t } = useTranslation();
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      {groupStepsByNode(steps).map((group, index) => {
        const nodeStep = group.steps.find((s) => s.kind === "node");
        const status = (nodeStep?.output as { status?: string } | undefined)?.status;
        return (
          <Card
            key={`${group.node_id ?? "run"}-${index}`}
            size="small"
            data-testid="run-node"
            title={
              <Space>
                {group.node_id ? <Typography.Text code>{group.node_id}</Typography.Text> : t("apps.runs.noNode")}
                {nodeStep && <Typography.Text>{nodeStep.name}</Typography.Text>}
                {status && <Tag color={status === "succeeded" ? "green" : status === "failed" ? "red" : "orange"}>{t(`workflow.status.${status}`, { defaultValue: status })}</Tag>}
              </Space>
            }
          >
            <StepTimeline steps={group.steps} />
          </Card>
        );
      })}
    </Space>
  );
}

function ChildRuns({ runs }: { runs: ChildRun[] }) {
  const { t } = useTranslation();
  const apps = useApps();
  if (!runs.length) return null;
  return (
    <>
      <Typography.Title level={5}>{t("apps.runs.children")}</Typography.Title>
      <List
        size="small"
        bordered
        dataSource={runs}
        renderItem={(child) => (
          <List.Item data-testid="child-run">
            <Space wrap>
              <Tag color={STATUS_COLORS[child.status]}>{t(`apps.runs.statuses.${child.status}`, { defaultValue: child.status })}</Tag>
              <Link to={`/apps/${child.app_id}?tab=runs&run=${child.id}`}>{apps.data?.find((a) => a.id === child.app_id)?.name ?? t("apps.runs.openChild")}</Link>
              <Typography.Text type="secondary" ellipsis style={{ maxWidth: 300 }}>{child.prompt}</Typography.Text>
              <Typography.Text type="secondary">{child.latency_ms} ms</Typography.Text>
            </Space>
          </List.Item>
        )}
      />
    </>
  );
}

function RunDrawer({ app, runId, onClose }: { app: App; runId: string | null; onClose: () => void }) {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const run = useQuery({
    queryKey: wsKey("apps", app.id, "runs", runId),
    enabled: runId !== null,
    queryFn: () => call(api.GET("/console/api/apps/{app_id}/runs/{run_id}", { params: { path: { app_id: app.id, run_id: runId ?? "" } } })),
  });
  const r = run.data;
  return (
    <Drawer open={runId !== null} onClose={onClose} width={760} title={t("apps.runs.run")}>
      <QueryState query={run}>
        {r && (
          <Space direction="vertical" style={{ width: "100%" }}>
            <Descriptions size="small" column={2} bordered>
              <Descriptions.Item label={t("apps.runs.status")}>
                <Tag color={STATUS_COLORS[r.status]}>{t(`apps.runs.statuses.${r.status}`)}</Tag>
              </Descriptions.Item>
              <Descriptions.Item label={t("apps.runs.surface")}>{r.surface}</Descriptions.Item>
              <Descriptions.Item label={t("apps.runs.latency")}>{r.latency_ms} ms</Descriptions.Item>
              <Descriptions.Item label={t("apps.runs.tokens")}>{r.input_tokens} / {r.output_tokens}</Descriptions.Item>
              <Descriptions.Item label={t("apps.runs.version")}>{r.version ? `v${r.version}` : t("apps.runs.draft")}</Descriptions.Item>
              <Descriptions.Item label={t("apps.runs.when")}>{new Date(r.started_at).toLocaleString()}</Descriptions.Item>
              <Descriptions.Item label={t("apps.runs.prompt")} span={2}>{r.prompt}</Descriptions.Item>
              <Descriptions.Item label={t("apps.runs.answer")} span={2}>
                <Typography.Paragraph style={{ whiteSpace: "pre-wrap", margin: 0 }}>{r.answer}</Typography.Paragraph>
              </Descriptions.Item>
              {r.error_code ? (
                <Descriptions.Item label={t("apps.runs.error")} span={2}>
                  <Typography.Text type="danger">{r.error_code}: {r.error_message}</Typography.Text>
                </Descriptions.Item>
              ) : null}
            </Descriptions>
            <ChildRuns runs={r.children ?? []} />
            <Typography.Title level={5}>{t("apps.runs.steps")}</Typography.Title>
            {isWorkflowRun(r.steps) ? <NodeGroups steps={r.steps} /> : <StepTimeline steps={r.steps} />}
          </Space>
        )}
      </QueryState>
    </Drawer>
  );
}

export function RunsTab({ app }: { app: App }) {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const [status, setStatus] = useState<RunStatus | undefined>();
  const [page, setPage] = useState(1);
  const [params, setParams] = useSearchParams();
  const open = params.get("run");
  const setOpen = (id: string | null) =>
    setParams(
      (all) => {
        const next = new URLSearchParams(all);
        if (id) next.set("run", id);
        else next.delete("run");
        return next;
      },
      { replace: true },
    );
  const runs = useQuery({
    queryKey: wsKey("apps", app.id, "runs", { status, page }),
    queryFn: () =>
      call(api.GET("/console/api/apps/{app_id}/runs", { params: { path: { app_id: app.id }, query: { status: status ?? null, limit: PAGE, offset: (page - 1) * PAGE } } })),
  });
  return (
    <Card
      size="small"
      extra={
        <Select
          allowClear
          placeholder={t("apps.runs.anyStatus")}
          style={{ width: 160 }}
          value={status}
          onChange={(v) => {
            setStatus(v);
            setPage(1);
          }}
          options={(["succeeded", "failed", "cancelled", "waiting"] as const).map((s) => ({ value: s, label: t(`apps.runs.statuses.${s}`) }))}
        />
      }
      title={t("apps.runs.title")}
    >
      <QueryState query={runs}>
        <Table<Run>
          rowKey="id"
          size="small"
          dataSource={runs.data?.items ?? []}
          onRow={(run) => ({ onClick: () => setOpen(run.id), style: { cursor: "pointer" } })}
          pagination={{ current: page, pageSize: PAGE, total: runs.data?.count ?? 0, hideOnSinglePage: true, onChange: setPage }}
          locale={{ emptyText: <EmptyState title={t("apps.runs.empty")} hint={t("apps.runs.emptyHint")} /> }}
          columns={[
            { title: t("apps.runs.status"), dataIndex: "status", render: (s: string) => <Tag color={STATUS_COLORS[s]}>{t(`apps.runs.statuses.${s}`, { defaultValue: s })}</Tag> },
            { title: t("apps.runs.prompt"), dataIndex: "prompt", ellipsis: true },
            { title: t("apps.runs.latency"), dataIndex: "latency_ms", align: "right", render: (v: number) => `${v} ms` },
            { title: t("apps.runs.tokens"), align: "right", render: (_, r) => `${r.input_tokens} / ${r.output_tokens}` },
            { title: t("apps.runs.surface"), dataIndex: "surface", render: (s: string) => <Tag>{s}</Tag> },
            { title: t("apps.runs.when"), dataIndex: "started_at", render: (v: string) => new Date(v).toLocaleString() },
          ]}
        />
      </QueryState>
      <RunDrawer app={app} runId={open} onClose={() => setOpen(null)} />
    </Card>
  );
}
