// Usage: calls, tokens and cost by day, model, API key or app over a date range, charted
// (recharts, loaded with this page only), and the quotas that bind the workspace with what
// they have counted so far.
import { useQuery } from "@tanstack/react-query";
import { Card, Col, DatePicker, Empty, Progress, Row, Segmented, Space, Statistic, Table, Tag, Typography } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, call, type Schemas } from "../api/client";
import { EmptyState, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { useWsKey } from "../session/workspace";

type GroupBy = "day" | "model" | "api_key" | "app" | "batch";
type Row = Schemas["UsageRowOut"];
const ISO = "YYYY-MM-DD";

function Quotas() {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const quotas = useQuery({ queryKey: wsKey("usage", "quotas"), queryFn: () => call(api.GET("/console/api/quotas/usage")), refetchInterval: 15_000 });
  return (
    <Card size="small" title={t("usage.quotas.title")}>
      <QueryState query={quotas}>
        {(quotas.data ?? []).length === 0 ? (
          <EmptyState title={t("usage.quotas.none")} hint={t("usage.quotas.noneHint")} />
        ) : (
          <Row gutter={[16, 16]}>
            {(quotas.data ?? []).map((quota) => (
              <Col xs={24} md={12} key={quota.id}>
                <Card size="small" type="inner" title={quota.model ? t("usage.quotas.model", { model: quota.model }) : t("usage.quotas.allModels")}>
                  {quota.limits.map((limit) => {
                    const percent = limit.used === null || limit.limit === 0 ? 0 : Math.min(100, (limit.used / limit.limit) * 100);
                    return (
                      <div key={limit.name} data-testid="quota-limit" style={{ marginBottom: 8 }}>
                        <Space style={{ width: "100%", justifyContent: "space-between" }}>
                          <Typography.Text>{t(`usage.quotas.limits.${limit.name}`, { defaultValue: limit.name })}</Typography.Text>
                          <Typography.Text type="secondary">
                            {limit.used === null ? t("usage.quotas.unknown") : limit.used.toLocaleString()} / {limit.limit.toLocaleString()}
                          </Typography.Text>
                        </Space>
                        <Progress percent={Math.round(percent)} size="small" status={percent >= 100 ? "exception" : percent >= 80 ? "active" : "normal"} showInfo={false} />
                      </div>
                    );
                  })}
                </Card>
              </Col>
            ))}
          </Row>
        )}
      </QueryState>
    </Card>
  );
}

export function UsagePage() {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const [range, setRange] = useState<[Dayjs, Dayjs]>([dayjs().subtract(29, "day"), dayjs()]);
  const [groupBy, setGroupBy] = useState<GroupBy>("day");
  const start = range[0].format(ISO);
  const end = range[1].format(ISO);
  const usage = useQuery({
    queryKey: wsKey("usage", start, end, groupBy),
    queryFn: () => call(api.GET("/console/api/usage", { params: { query: { start, end, group_by: groupBy } } })),
  });
  const rows = usage.data?.rows ?? [];
  const label = (row: Row) => (row.key === "(no app)" ? t("usage.noApp") : row.key === "(no batch)" ? t("usage.noBatch") : row.label ?? row.key);
  const chart = rows.map((row) => ({ name: label(row), input: row.input_tokens, output: row.output_tokens, requests: row.requests }));
  const totals = usage.data?.totals;
  return (
    <>
      <PageHeader
        title={t("nav.usage")}
        subtitle={t("usage.subtitle")}
        extra={
          <Space wrap>
            <DatePicker.RangePicker
              allowClear={false}
              value={range}
              disabledDate={(d) => d.isAfter(dayjs(), "day")}
              onChange={(v) => v?.[0] && v[1] && setRange([v[0], v[1]])}
            />
            <Segmented<GroupBy>
              value={groupBy}
              onChange={setGroupBy}
              options={(["day", "model", "api_key", "app", "batch"] as const).map((g) => ({ value: g, label: t(`usage.groupBy.${g}`) }))}
            />
          </Space>
        }
      />
      <Space direction="vertical" size={16} style={{ width: "100%" }}>
        <QueryState query={usage}>
          <Row gutter={16}>
            {(
              [
                ["requests", totals?.requests ?? 0],
                ["errors", totals?.errors ?? 0],
                ["inputTokens", totals?.input_tokens ?? 0],
                ["outputTokens", totals?.output_tokens ?? 0],
                ["cost", Number(totals?.cost ?? 0)],
              ] as const
            ).map(([key, value]) => (
              <Col key={key} xs={12} md={key === "cost" ? 4 : 5}>
                <Card size="small">
                  <Statistic title={t(`usage.${key}`)} value={value} precision={key === "cost" ? 4 : 0} />
                </Card>
              </Col>
            ))}
          </Row>
          <Card size="small" title={t("usage.tokensChart")} style={{ marginTop: 16 }}>
            {rows.length === 0 ? (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={<><div>{t("usage.empty")}</div><Typography.Text type="secondary">{t("usage.emptyHint")}</Typography.Text></>} />
            ) : (
              <div style={{ width: "100%", height: 300 }} data-testid="usage-chart">
                <ResponsiveContainer>
                  <BarChart data={chart} margin={{ top: 8, right: 16, left: 8, bottom: 8 }}>
                    <CartesianGrid strokeDasharray="3 3" vertical={false} />
                    <XAxis dataKey="name" tick={{ fontSize: 12 }} />
                    <YAxis tick={{ fontSize: 12 }} />
                    <Tooltip />
                    <Legend />
                    <Bar dataKey="input" stackId="tokens" name={t("usage.inputTokens")} fill="#615ced" />
                    <Bar dataKey="output" stackId="tokens" name={t("usage.outputTokens")} fill="#36cfc9" />
                  </BarChart>
                </ResponsiveContainer>
              </div>
            )}
          </Card>
          <Card size="small" style={{ marginTop: 16 }}>
            <Table<Row>
              rowKey="key"
              size="small"
              dataSource={rows}
              pagination={{ pageSize: 31, hideOnSinglePage: true }}
              locale={{ emptyText: <EmptyState title={t("usage.empty")} /> }}
              columns={[
                {
                  title: t(`usage.groupBy.${groupBy}`),
                  dataIndex: "key",
                  render: (_: string, row) => (groupBy === "app" && row.key !== "(no app)" ? <Space><span>{label(row)}</span><Tag>{row.key.slice(0, 8)}</Tag></Space> : label(row)),
                },
                { title: t("usage.requests"), dataIndex: "requests", align: "right" },
                { title: t("usage.errors"), dataIndex: "errors", align: "right" },
                { title: t("usage.cacheHits"), dataIndex: "cache_hits", align: "right" },
                { title: t("usage.inputTokens"), dataIndex: "input_tokens", align: "right", render: (v: number) => v.toLocaleString() },
                { title: t("usage.outputTokens"), dataIndex: "output_tokens", align: "right", render: (v: number) => v.toLocaleString() },
                { title: t("usage.cost"), dataIndex: "cost", align: "right", render: (v: string) => Number(v).toFixed(4) },
              ]}
            />
          </Card>
        </QueryState>
        <Quotas />
      </Space>
    </>
  );
}

