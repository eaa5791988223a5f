// A batch's status tag, its progress bar, and its details (the expanded row of the Batch
// page): timeline, request counts, tokens, files to download, validation errors.
import { DownloadOutlined } from "@ant-design/icons";
import { Button, Col, Descriptions, Progress, Row, Space, Statistic, Table, Tag, Timeline, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { downloadBatchFile } from "../../api/download";
import { notifyError, notifySuccess } from "../../components/feedback";
import { formatTime, isKnownStatus, isUnfinished, progressOf, statusColor, timelineOf, type Batch } from "./model";

type BatchError = NonNullable<Batch["errors"]>["data"][number];

export function BatchStatusTag({ status }: { status: string }) {
  const { t } = useTranslation();
  return (
    <Tag color={statusColor(status)} data-testid="batch-status">
      {isKnownStatus(status) ? t(`batches.statuses.${status}`) : status}
    </Tag>
  );
}

export function BatchProgress({ batch }: { batch: Pick<Batch, "status" | "request_counts"> }) {
  const { t } = useTranslation();
  const progress = progressOf(batch);
  return (
    <div style={{ minWidth: 160 }} data-testid="batch-progress">
      <Progress
        percent={progress.percent}
        status={progress.status}
        size="small"
        style={{ margin: 0 }}
        aria-label={t("batches.progress")}
        format={() => t("batches.progressText", { done: progress.done, total: progress.total })}
      />
      {progress.failed > 0 && (
        <Typography.Text type="danger" style={{ fontSize: 12 }}>
          {t("batches.failedCount", { n: progress.failed })}
        </Typography.Text>
      )}
    </div>
  );
}

/** A button that downloads a batch file through the API client (it needs X-Workspace). */
export function DownloadButton({ fileId, label, testId }: { fileId: string; label: string; testId?: string }) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const download = async () => {
    setBusy(true);
    try {
      const name = await downloadBatchFile(fileId);
      notifySuccess(t("batches.details.downloaded", { name }));
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Button size="small" icon={<DownloadOutlined />} loading={busy} onClick={() => void download()} data-testid={testId} aria-label={`${t("batches.details.download")} ${label}`}>
      {t("batches.details.download")}
    </Button>
  );
}

function FileRow({ fileId, label, pending, testId }: { fileId: string | null; label: string; pending: boolean; testId: string }) {
  const { t } = useTranslation();
  return (
    <Space size={8} wrap>
      {fileId ? (
        <>
          <Typography.Text code copyable={{ text: fileId }}>
            {fileId}
          </Typography.Text>
          <DownloadButton fileId={fileId} label={label} testId={testId} />
        </>
      ) : (
        <Typography.Text type="secondary">{pending ? t("batches.details.notYet") : t("batches.details.none")}</Typography.Text>
      )}
    </Space>
  );
}

export function BatchDetails({ batch }: { batch: Batch }) {
  const { t } = useTranslation();
  const unfinished = isUnfinished(batch.status);
  const errors: BatchError[] = batch.errors?.data ?? [];
  const timeline: { key: string; color: string; title: string; content: string }[] = timelineOf(batch).map(({ event, at }) => ({
    key: event,
    color: event === "failed_at" || event === "expired_at" ? "red" : event === "completed_at" ? "green" : event.startsWith("cancel") ? "gray" : "blue",
    title: formatTime(at),
    content: t(`batches.details.events.${event}`),
  }));
  if (unfinished && batch.expires_at != null) {
    timeline.push({ key: "expires_at", color: "gray", title: formatTime(batch.expires_at), content: t("batches.details.expiresAt") });
  }
  const metadata = Object.entries(batch.metadata ?? {});
  return (
    <div data-testid="batch-details" style={{ padding: "4px 8px" }}>
      <Row gutter={[24, 16]}>
        <Col xs={24} md={8}>
          <Typography.Title level={5}>{t("batches.details.timeline")}</Typography.Title>
          <Timeline items={timeline} />
        </Col>
        <Col xs={24} md={16}>
          <Row gutter={[16, 16]}>
            <Col span={24}>
              <Typography.Title level={5}>{t("batches.details.requests")}</Typography.Title>
              <Space size={32} wrap>
                <Statistic title={t("batches.details.total")} value={batch.request_counts.total} />
                <Statistic title={t("batches.details.completed")} value={batch.request_counts.completed} styles={{ content: { color: "#389e0d" } }} />
                <Statistic title={t("batches.details.failed")} value={batch.request_counts.failed} styles={batch.request_counts.failed ? { content: { color: "#cf1322" } } : undefined} />
                <Statistic title={`${t("batches.details.usage")} · ${t("batches.details.inputTokens")}`} value={batch.usage.input_tokens} />
                <Statistic title={`${t("batches.details.usage")} · ${t("batches.details.outputTokens")}`} value={batch.usage.output_tokens} />
                <Statistic title={`${t("batches.details.usage")} · ${t("batches.details.totalTokens")}`} value={batch.usage.total_tokens} />
              </Space>
            </Col>
            <Col span={24}>
              <Descriptions
                size="small"
                column={1}
                bordered
                title={t("batches.details.files")}
                items={[
                  {
                    key: "input",
                    label: t("batches.details.inputFile"),
                    children: <FileRow fileId={batch.input_file_id} label={t("batches.details.inputFile")} pending={false} testId="download-input" />,
                  },
                  {
                    key: "output",
                    label: t("batches.details.outputFile"),
                    children: <FileRow fileId={batch.output_file_id} label={t("batches.details.outputFile")} pending={unfinished} testId="download-output" />,
                  },
                  {
                    key: "errors",
                    label: t("batches.details.errorFile"),
                    children: <FileRow fileId={batch.error_file_id} label={t("batches.details.errorFile")} pending={unfinished} testId="download-errors" />,
                  },
                  { key: "window", label: t("batches.details.window"), children: batch.completion_window },
                  ...(metadata.length
                    ? [
                        {
                          key: "metadata",
                          label: t("batches.details.metadata"),
                          children: (
                            <Space size={4} wrap>
                              {metadata.map(([key, value]) => (
                                <Tag key={key}>
                                  {key}: {typeof value === "string" ? value : JSON.stringify(value)}
                                </Tag>
                              ))}
                            </Space>
                          ),
                        },
                      ]
                    : []),
                ]}
              />
            </Col>
          </Row>
        </Col>
        {errors.length > 0 && (
          <Col span={24}>
            <Typography.Title level={5} type="danger">
              {t("batches.details.errors", { count: errors.length })}
            </Typography.Title>
            <Table<BatchError>
              size="small"
              data-testid="batch-errors"
              rowKey={(e) => `${e.line ?? "-"}:${e.code}:${e.param ?? ""}:${e.message}`}
              dataSource={errors}
              pagination={{ pageSize: 10, hideOnSinglePage: true }}
              columns={[
                { title: t("batches.details.line"), dataIndex: "line", width: 80, render: (v: number | null) => v ?? "—" },
                { title: t("batches.details.code"), dataIndex: "code", width: 200, render: (v: string) => <Typography.Text code>{v}</Typography.Text> },
                { title: t("batches.details.param"), dataIndex: "param", width: 140, render: (v: string | null) => v ?? "—" },
                { title: t("batches.details.message"), dataIndex: "message" },
              ]}
            />
          </Col>
        )}
      </Row>
    </div>
  );
}
