// Apps: the list, and creating one (it starts with a draft of the defaults).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Form, Input, Modal, Tag } from "antd";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { api, call } from "../api/client";
import { deleteColumn, ListPage, nameColumn, updatedColumn } from "../components/ListPage";
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
  const client = useQueryClient();
  const wsKey = useWsKey();
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/apps/{app_id}", { params: { path: { app_id: id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: wsKey("apps") }),
  });
  const editable = can("editApps");
  return (
    <ListPage<App>
      title={t("nav.apps")}
      subtitle={t("apps.subtitle")}
      query={apps}
      create={editable ? { label: t("apps.create.button"), dialog: (open, close) => <CreateModal open={open} onClose={close} /> } : null}
      empty={{ title: t("apps.empty.title"), hint: editable ? t("apps.empty.hint") : t("apps.empty.viewerHint") }}
      rowKey="id"
      scrollX={700}
      columns={[
        nameColumn<App>(t("apps.name"), (app) => `/apps/${app.id}`),
        {
          title: t("apps.published"),
          dataIndex: "published_version",
          render: (v: number | null) => (v ? <Tag color="green">v{v}</Tag> : <Tag>{t("apps.draftOnly")}</Tag>),
        },
        updatedColumn<App>(t("common.updated")),
        deleteColumn<App>({ allowed: editable, confirm: (app) => t("apps.deleteConfirm", { name: app.name }), label: t("common.delete"), onDelete: (app) => remove.mutateAsync(app.id) }),
      ]}
    />
  );
}
