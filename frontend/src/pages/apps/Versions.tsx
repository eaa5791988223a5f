// Published versions: list, diff against the draft, roll back into the draft.
import { DiffOutlined, RollbackOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Modal, Popconfirm, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, call, type Schemas } from "../../api/client";
import { EmptyState, notifySuccess, QueryState } from "../../components/feedback";
import { useWorkspace, useWsKey } from "../../session/workspace";
import type { App } from "./model";

type Version = Schemas["VersionOut"];

function show(value: unknown): string {
  if (value === undefined) return "—";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function DiffModal({ app, number, onClose }: { app: App; number: number | null; onClose: () => void }) {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const diff = useQuery({
    queryKey: wsKey("apps", app.id, "diff", number),
    enabled: number !== null,
    queryFn: () =>
      call(api.GET("/console/api/apps/{app_id}/versions/{number}/diff", { params: { path: { app_id: app.id, number: number ?? 0 }, query: { against: "draft" } } })),
  });
  return (
    <Modal open={number !== null} title={t("apps.versions.diffTitle", { n: number })} onCancel={onClose} footer={null} width={860}>
      <QueryState query={diff}>
        <Table
          rowKey="path"
          size="small"
          pagination={false}
          dataSource={diff.data?.changes ?? []}
          locale={{ emptyText: <EmptyState title={t("apps.versions.noChanges")} /> }}
          columns={[
            { title: t("apps.versions.field"), dataIndex: "path", render: (p: string) => <Typography.Text code>{p}</Typography.Text>, width: 200 },
            { title: t("apps.versions.before", { n: number }), dataIndex: "before", render: (v: unknown) => <pre className="json-block">{show(v)}</pre> },
            { title: t("apps.versions.after"), dataIndex: "after", render: (v: unknown) => <pre className="json-block">{show(v)}</pre> },
          ]}
        />
      </QueryState>
    </Modal>
  );
}

export function VersionsTab({ app }: { app: App }) {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const { can } = useWorkspace();
  const [diffOf, setDiffOf] = useState<number | null>(null);
  const versions = useQuery({
    queryKey: wsKey("apps", app.id, "versions"),
    queryFn: () => call(api.GET("/console/api/apps/{app_id}/versions", { params: { path: { app_id: app.id } } })),
  });
  const rollback = useMutation({
    mutationFn: (n: number) => call(api.POST("/console/api/apps/{app_id}/versions/{number}/rollback", { params: { path: { app_id: app.id, number: n } } })),
    onSuccess: (_data, n) => {
      void client.invalidateQueries({ queryKey: wsKey("apps", app.id) });
      notifySuccess(t("apps.versions.rolledBack", { n }));
    },
  });
  return (
    <Card size="small">
      <QueryState query={versions}>
        <Table<Version>
          rowKey="number"
          dataSource={versions.data ?? []}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          locale={{ emptyText: <EmptyState title={t("apps.versions.empty")} hint={can("editApps") ? t("apps.versions.emptyHint") : undefined} /> }}
          columns={[
            {
              title: t("apps.versions.number"),
              dataIndex: "number",
              render: (n: number) => (
                <Space>
                  <Tag color={n === app.published_version ? "green" : undefined}>v{n}</Tag>
                  {n === app.published_version && <Typography.Text type="secondary">{t("apps.versions.live")}</Typography.Text>}
                </Space>
              ),
            },
            { title: t("apps.versions.notes"), dataIndex: "notes", render: (v: string) => v || <Typography.Text type="secondary">—</Typography.Text> },
            { title: t("apps.versions.by"), dataIndex: "published_by", render: (v: string | null) => v ?? "—" },
            { title: t("apps.versions.when"), dataIndex: "published_at", render: (v: string) => new Date(v).toLocaleString() },
            {
              title: "",
              align: "right",
              render: (_, v) => (
                <Space>
                  <Button size="small" icon={<DiffOutlined />} onClick={() => setDiffOf(v.number)}>
                    {t("apps.versions.diff")}
                  </Button>
                  {can("editApps") && (
                    <Popconfirm title={t("apps.versions.rollbackConfirm", { n: v.number })} onConfirm={() => rollback.mutateAsync(v.number)}>
                      <Button size="small" icon={<RollbackOutlined />}>
                        {t("apps.versions.rollback")}
                      </Button>
                    </Popconfirm>
                  )}
                </Space>
              ),
            },
          ]}
        />
      </QueryState>
      <DiffModal app={app} number={diffOf} onClose={() => setDiffOf(null)} />
    </Card>
  );
}
