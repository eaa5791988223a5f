// Apps: the list (with each app's kind), creating one (an agent, or a workflow from a
// template or blank) and importing one from a YAML file.
import { ImportOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Form, Input, Modal, Radio, Tag, Upload } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { api, call } from "../api/client";
import { ErrorAlert } from "../components/feedback";
import { deleteColumn, ListPage, nameColumn, updatedColumn } from "../components/ListPage";
import { useWorkspace, useWsKey } from "../session/workspace";
import { useApps, type App } from "./apps/model";
import { appKind, createApp, importApp, type AppKind } from "./workflows/api";
import { TemplateGallery } from "./workflows/TemplateGallery";

interface CreateValues {
  name: string;
  description?: string;
  kind: AppKind;
}

function useOpenCreated(onDone: () => void) {
  const client = useQueryClient();
  const wsKey = useWsKey();
  const navigate = useNavigate();
  return (app: App) => {
    void client.invalidateQueries({ queryKey: wsKey("apps") });
    onDone();
    navigate(`/apps/${app.id}`);
  };
}

function CreateModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<CreateValues>();
  const kind = Form.useWatch("kind", form) ?? "agent";
  const [template, setTemplate] = useState<string | null>(null);
  const opened = useOpenCreated(() => {
    form.resetFields();
    setTemplate(null);
    onClose();
  });
  const create = useMutation({
    mutationFn: (v: CreateValues) =>
      createApp({ name: v.name, description: v.description ?? "", kind: v.kind, ...(v.kind === "workflow" && template ? { template } : {}) }),
    meta: { silent: true },
    onSuccess: opened,
  });
  return (
    <Modal
      open={open}
      title={t("apps.create.title")}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t("common.create")}
      confirmLoading={create.isPending}
      width={kind === "workflow" ? 760 : undefined}
      destroyOnHidden
    >
      {create.error ? <ErrorAlert error={create.error} /> : null}
      <Form form={form} layout="vertical" initialValues={{ kind: "agent" }} onFinish={(v) => create.mutate(v)}>
        <Form.Item name="kind" label={t("apps.kind")}>
          <Radio.Group optionType="button" buttonStyle="solid" data-testid="app-kind-choice">
            <Radio.Button value="agent">{t("apps.kinds.agent")}</Radio.Button>
            <Radio.Button value="workflow">{t("apps.kinds.workflow")}</Radio.Button>
          </Radio.Group>
        </Form.Item>
        <Form.Item name="name" label={t("apps.name")} rules={[{ required: true, message: t("apps.create.nameRequired") }, { max: 100 }]}>
          <Input autoFocus placeholder={t("apps.create.namePlaceholder")} />
        </Form.Item>
        <Form.Item name="description" label={t("apps.description")}>
          <Input.TextArea rows={2} />
        </Form.Item>
        {kind === "workflow" && (
          <Form.Item label={t("apps.create.template")}>
            <TemplateGallery value={template} onChange={setTemplate} />
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}

function ImportModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const [file, setFile] = useState<{ name: string; text: string } | null>(null);
  const [name, setName] = useState("");
  const opened = useOpenCreated(() => {
    setFile(null);
    setName("");
    onClose();
  });
  const run = useMutation({ mutationFn: () => importApp(file?.text ?? "", name.trim() || undefined), meta: { silent: true }, onSuccess: opened });
  return (
    <Modal open={open} title={t("apps.import.title")} onCancel={onClose} onOk={() => run.mutate()} okText={t("apps.import.button")} okButtonProps={{ disabled: !file }} confirmLoading={run.isPending} destroyOnHidden>
      {run.error ? <ErrorAlert error={run.error} /> : null}
      <Form layout="vertical" component={false}>
        <Form.Item label={t("apps.import.file")} extra={file ? file.name : t("apps.import.hint")}>
          <Upload
            accept=".yaml,.yml,text/yaml"
            maxCount={1}
            showUploadList={false}
            beforeUpload={(picked) => {
              void picked.text().then((text) => setFile({ name: picked.name, text }));
              return false;
            }}
          >
            <Button icon={<ImportOutlined />} data-testid="import-file">{t("apps.import.pick")}</Button>
          </Upload>
        </Form.Item>
        <Form.Item label={t("apps.import.name")} extra={t("apps.import.nameHint")}>
          <Input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
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
  const [importing, setImporting] = useState(false);
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
      actions={
        editable ? (
          <Button icon={<ImportOutlined />} onClick={() => setImporting(true)} data-testid="import-app">
            {t("apps.import.open")}
          </Button>
        ) : null
      }
      create={editable ? { label: t("apps.create.button"), dialog: (open, close) => <CreateModal open={open} onClose={close} /> } : null}
      empty={{ title: t("apps.empty.title"), hint: editable ? t("apps.empty.hint") : t("apps.empty.viewerHint") }}
      rowKey="id"
      scrollX={760}
      columns={[
        nameColumn<App>(t("apps.name"), (app) => `/apps/${app.id}`),
        {
          title: t("apps.kind"),
          render: (_, app) => (appKind(app) === "workflow" ? <Tag color="geekblue">{t("apps.kinds.workflow")}</Tag> : <Tag color="purple">{t("apps.kinds.agent")}</Tag>),
        },
        {
          title: t("apps.published"),
          dataIndex: "published_version",
          render: (v: number | null) => (v ? <Tag color="green">v{v}</Tag> : <Tag>{t("apps.draftOnly")}</Tag>),
        },
        updatedColumn<App>(t("common.updated")),
        deleteColumn<App>({ allowed: editable, confirm: (app) => t("apps.deleteConfirm", { name: app.name }), label: t("common.delete"), onDelete: (app) => remove.mutateAsync(app.id) }),
      ]}
    >
      <ImportModal open={importing} onClose={() => setImporting(false)} />
    </ListPage>
  );
}
