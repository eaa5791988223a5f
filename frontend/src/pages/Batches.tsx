// Batch inference: the workspace's batches (newest first, live while any is unfinished),
// each row expandable to its details and files; "New batch" uploads a JSONL file and
// creates one; unfinished batches can be cancelled.
import { LeftOutlined, PlusOutlined, RightOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Popconfirm, Space, Table, Tooltip, Typography } from "antd";
import { useEffect, useState, type Key, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { api, call } from "../api/client";
import { EmptyState, notifySuccess, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { useWorkspace, useWsKey } from "../session/workspace";
import { BatchDetails, BatchProgress, BatchStatusTag } from "./batches/BatchDetails";
import { anyUnfinished, formatTime, isCancellable, sdkSnippet, shortId, type Batch } from "./batches/model";
import { NewBatchModal } from "./batches/NewBatchModal";

const PAGE_SIZE = 20;
/** How often the list is read again while a batch is unfinished. */
export const POLL_MS = 2000;

function EmptyBatches({ action, mayRun }: { action: ReactNode; mayRun: boolean }) {
  const { t } = useTranslation();
  const url = `${window.location.origin}/compatible-mode/v1`;
  return (
    <EmptyState
      title={t("batches.empty.title")}
      hint={
        <div style={{ maxWidth: 640, margin: "0 auto", textAlign: "left" }}>
          <p>{t("batches.empty.hint")}</p>
          {!mayRun && <p>{t("batches.empty.viewerHint")}</p>}
          <p style={{ marginBottom: 4 }}>{t("batches.empty.sdk", { url })}</p>
          <pre className="code-block">{sdkSnippet(window.location.origin)}</pre>
        </div>
      }
      action={action}
    />
  );
}

export function BatchesPage() {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const { can, workspace } = useWorkspace();
  const mayRun = can("editApps");
  // Cursor pages: the `after` id of each page past the first (the API pages by id).
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1];
  const [creating, setCreating] = useState(false);
  const [expanded, setExpanded] = useState<Key[]>([]);
  useEffect(() => {
    setCursors([]);
    setExpanded([]);
  }, [workspace?.slug]);

  const batches = useQuery({
    queryKey: wsKey("batches", after ?? null),
    queryFn: () => call(api.GET("/console/api/batches", { params: { query: { after, limit: PAGE_SIZE } } })),
    // Live status: poll while a batch on the page is still moving; stop once none is.
    refetchInterval: (query) => (anyUnfinished(query.state.data) ? POLL_MS : false),
  });
  const refresh = () => client.invalidateQueries({ queryKey: wsKey("batches") });
  const cancel = useMutation({
    mutationFn: (id: string) => call(api.POST("/console/api/batches/{batch_id}/cancel", { params: { path: { batch_id: id } } })),
    onSuccess: (batch) => {
      notifySuccess(t("batches.cancelling", { id: batch.id }));
      void refresh();
    },
  });

  const rows = batches.data ?? [];
  const createButton = mayRun ? (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
      {t("batches.create")}
    </Button>
  ) : null;

  return (
    <>
      <PageHeader title={t("nav.batches")} subtitle={t("batches.subtitle")} extra={createButton} />
      <Card size="small">
        <QueryState query={batches}>
          <Table<Batch>
            rowKey="id"
            dataSource={rows}
            pagination={false}
            scroll={{ x: 1000 }}
            expandable={{
              expandedRowKeys: expanded,
              onExpandedRowsChange: (keys) => setExpanded([...keys]),
              expandedRowRender: (batch) => <BatchDetails batch={batch} />,
            }}
            locale={{ emptyText: after ? <EmptyState title={t("batches.empty.title")} /> : <EmptyBatches action={createButton} mayRun={mayRun} /> }}
            columns={[
              {
                title: t("batches.id"),
                dataIndex: "id",
                render: (id: string) => (
                  <Typography.Text code copyable={{ text: id }} title={id} style={{ whiteSpace: "nowrap" }} data-testid="batch-id">
                    {shortId(id)}
                  </Typography.Text>
                ),
              },
              { title: t("batches.model"), dataIndex: "model", render: (v: string | null) => v ?? "—" },
              { title: t("batches.endpoint"), dataIndex: "endpoint", render: (v: string) => <Typography.Text type="secondary">{v}</Typography.Text> },
              { title: t("batches.status"), dataIndex: "status", render: (s: string) => <BatchStatusTag status={s} /> },
              { title: t("batches.progress"), key: "progress", width: 200, render: (_, batch) => <BatchProgress batch={batch} /> },
              { title: t("batches.created"), dataIndex: "created_at", render: (v: number) => formatTime(v) },
              {
                title: "",
                key: "actions",
                align: "right",
                render: (_, batch) =>
                  isCancellable(batch.status) ? (
                    mayRun ? (
                      <Popconfirm
                        title={t("batches.cancelConfirm", { id: batch.id })}
                        okText={t("batches.cancelOk")}
                        cancelText={t("batches.cancelKeep")}
                        okButtonProps={{ danger: true }}
                        onConfirm={() => cancel.mutateAsync(batch.id)}
                      >
                        <Button size="small" danger>
                          {t("batches.cancel")}
                        </Button>
                      </Popconfirm>
                    ) : (
                      <Tooltip title={t("batches.cancelNotAllowed")}>
                        <Button size="small" danger disabled>
                          {t("batches.cancel")}
                        </Button>
                      </Tooltip>
                    )
                  ) : null,
              },
            ]}
          />
          {(cursors.length > 0 || rows.length === PAGE_SIZE) && (
            <Space style={{ marginTop: 12, justifyContent: "flex-end", width: "100%" }}>
              <Button size="small" icon={<LeftOutlined />} disabled={!cursors.length} onClick={() => setCursors((c) => c.slice(0, -1))}>
                {t("batches.previous")}
              </Button>
              <Button
                size="small"
                disabled={rows.length < PAGE_SIZE}
                onClick={() => {
                  const last = rows[rows.length - 1];
                  if (last) setCursors((c) => [...c, last.id]);
                }}
              >
                {t("batches.next")} <RightOutlined />
              </Button>
            </Space>
          )}
        </QueryState>
      </Card>
      <NewBatchModal
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(batch) => {
          notifySuccess(t("batches.createdToast", { id: batch.id }));
          setCursors([]);
          setExpanded((keys) => [batch.id, ...keys]);
          // Show it at once, before the list is read again.
          client.setQueryData<Batch[]>(wsKey("batches", null), (old) => (old ? [batch, ...old.filter((b) => b.id !== batch.id)] : old));
          void refresh();
        }}
      />
    </>
  );
}
