// Agent apps: the list, and creating one (it starts with a draft of the defaults).
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Form, Input, Modal, Popconfirm, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { api, call } from "../api/client";
import { EmptyState, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { useWorkspace, useWsKey } from "../session/workspace";
import { useApps, type App } from "./apps/model";

function CreateModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ name: string; description?: string }>();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: (v: { name: string; description?: string }) =>
      call(api.POST("/console/api/apps", { body: { name: v.name, description: v.description ?? "" } })),
    onSuccess: (app) => {
      void client.invalidateQueries({ queryKey: wsKey("apps") });
      form.resetFields();
      onClose();
      navigate(`/apps/${app.id}`);
    },
  });
  return (
    <Modal open={open} title={t("apps.create.title")} onCancel={onClose} onOk={() => form.submit()} okText={t("common.create")} confirmLoading={create.isPending} destroyOnHidden>
      <Form form={form} layout="vertical" onFinish={(v) => create.mutate(v)}>
        <Form.Item name="name" label={t("apps.name")} rules={[{ required: true, message: t("apps.create.nameRequired") }, { max: 100 }]}>
          <Input autoFocus placeholder={t("apps.create.namePlaceholder")} />
        </Form.Item>
        <Form.Item name="description" label={t("apps.description")}>
          <Input.TextArea rows={2} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export function AppsPage() {
  const { t } = useTranslation();
  const apps = useApps();
  const { can } = useWorkspace();
  const [creating, setCreating] = useState(false);
  const client = useQueryClient();
  const wsKey = useWsKey();
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/apps/{app_id}", { params: { path: { app_id: id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: wsKey("apps") }),
  });
  const editable = can("editApps");
  const createButton = editable ? (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
      {t("apps.create.button")}
    </Button>
  ) : null;
  return (
    <>
      <PageHeader title={t("nav.apps")} subtitle={t("apps.subtitle")} extra={createButton} />
      <Card size="small">
        <QueryState query={apps}>
          <Table<App>
            rowKey="id"
            dataSource={apps.data ?? []}
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
            scroll={{ x: 700 }}
            locale={{ emptyText: <EmptyState title={t("apps.empty.title")} hint={editable ? t("apps.empty.hint") : t("apps.empty.viewerHint")} action={createButton} /> }}
            columns={[
              {
                title: t("apps.name"),
                dataIndex: "name",
                render: (name: string, app) => (
                  <Space direction="vertical" size={0}>
                    <Link to={`/apps/${app.id}`}>{name}</Link>
                    {app.description && <Typography.Text type="secondary" ellipsis style={{ maxWidth: 360 }}>{app.description}</Typography.Text>}
                  </Space>
                ),
              },
              {
                title: t("apps.published"),
                dataIndex: "published_version",
                render: (v: number | null) => (v ? <Tag color="green">v{v}</Tag> : <Tag>{t("apps.draftOnly")}</Tag>),
              },
              { title: t("common.updated"), dataIndex: "updated_at", render: (v: string) => new Date(v).toLocaleString() },
              {
                title: "",
                align: "right",
                render: (_, app) =>
                  editable ? (
                    <Popconfirm title={t("apps.deleteConfirm", { name: app.name })} okButtonProps={{ danger: true }} onConfirm={() => remove.mutateAsync(app.id)}>
                      <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} />
                    </Popconfirm>
                  ) : null,
              },
            ]}
          />
        </QueryState>
      </Card>
      <CreateModal open={creating} onClose={() => setCreating(false)} />
    </>
  );
}
