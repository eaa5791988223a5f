// One app: configure the draft, try it in the playground, publish, versions, API, runs.
import { ArrowLeftOutlined, CloudUploadOutlined, ExportOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Form, Input, Modal, Space, Tabs, Tag } from "antd";
import { useCallback, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams, useSearchParams } from "react-router";
import { api, call } from "../api/client";
import { ErrorAlert, notifyError, notifySuccess, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { useWorkspace, useWsKey } from "../session/workspace";
import { ApiTab } from "./apps/ApiTab";
import { ConfigureTab } from "./apps/Configure";
import { useApp, type App } from "./apps/model";
import { PlaygroundTab } from "./apps/Playground";
import { RunsTab } from "./apps/Runs";
import { VersionsTab } from "./apps/Versions";
import { appKind, exportApp } from "./workflows/api";
import { WorkflowEditor } from "./workflows/WorkflowEditor";
import { WorkflowPlayground } from "./workflows/WorkflowPlayground";

function ExportButton({ app }: { app: App }) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  return (
    <Button
      icon={<ExportOutlined />}
      loading={busy}
      data-testid="export-yaml"
      onClick={() => {
        setBusy(true);
        exportApp(app)
          .catch(notifyError)
          .finally(() => setBusy(false));
      }}
    >
      {t("workflow.exportYaml")}
    </Button>
  );
}

function PublishButton({ app, dirty }: { app: App; dirty: boolean }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [notes, setNotes] = useState("");
  const client = useQueryClient();
  const wsKey = useWsKey();
  const publish = useMutation({
    mutationFn: () => call(api.POST("/console/api/apps/{app_id}/publish", { params: { path: { app_id: app.id } }, body: { notes } })),
    meta: { silent: true },
    onSuccess: (version) => {
      void client.invalidateQueries({ queryKey: wsKey("apps") });
      notifySuccess(t("apps.publish.done", { n: version.number }));
      setOpen(false);
      setNotes("");
    },
  });
  return (
    <>
      <Button type="primary" icon={<CloudUploadOutlined />} onClick={() => setOpen(true)} data-testid="publish">
        {t("apps.publish.button")}
      </Button>
      <Modal
        open={open}
        title={t("apps.publish.title")}
        onCancel={() => setOpen(false)}
        onOk={() => publish.mutate()}
        okText={t("apps.publish.button")}
        confirmLoading={publish.isPending}
        destroyOnHidden
      >
        <Space direction="vertical" style={{ width: "100%" }}>
          {dirty && <ErrorAlert error={new Error(t("apps.publish.unsaved"))} />}
          {publish.error ? <ErrorAlert error={publish.error} /> : null}
          <Form layout="vertical">
            <Form.Item label={t("apps.publish.notes")} extra={t("apps.publish.hint")}>
              <Input.TextArea rows={3} value={notes} onChange={(e) => setNotes(e.target.value)} maxLength={2000} data-testid="publish-notes" />
            </Form.Item>
          </Form>
        </Space>
      </Modal>
    </>
  );
}

export function AppDetailPage() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const app = useApp(id);
  const { can } = useWorkspace();
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") ?? "configure";
  const [dirty, setDirty] = useState(false);
  const onDirtyChange = useCallback((value: boolean) => setDirty(value), []);
  const a = app.data;
  const workflow = a ? appKind(a) === "workflow" : false;
  return (
    <QueryState query={app}>
      {a && (
        <>
          <PageHeader
            title={
              <Space>
                <Link to="/apps" aria-label={t("common.back")}>
                  <ArrowLeftOutlined />
                </Link>
                {a.name}
                <Tag color={workflow ? "geekblue" : "purple"} data-testid="app-kind">{t(`apps.kinds.${workflow ? "workflow" : "agent"}`)}</Tag>
                {a.published_version ? <Tag color="green">{t("apps.liveVersion", { n: a.published_version })}</Tag> : <Tag>{t("apps.draftOnly")}</Tag>}
              </Space>
            }
            subtitle={a.description || undefined}
            extra={
              <Space>
                <ExportButton app={a} />
                {can("editApps") ? <PublishButton app={a} dirty={dirty} /> : null}
              </Space>
            }
          />
          <Tabs
            activeKey={tab}
            onChange={(key) => setParams({ tab: key }, { replace: true })}
            items={[
              workflow
                ? { key: "configure", label: t("apps.tabs.canvas"), children: <WorkflowEditor app={a} onDirtyChange={onDirtyChange} /> }
                : { key: "configure", label: t("apps.tabs.configure"), children: <ConfigureTab app={a} onDirtyChange={onDirtyChange} /> },
              {
                key: "playground",
                label: t("apps.tabs.playground"),
                children: workflow ? <WorkflowPlayground app={a} dirty={dirty} /> : <PlaygroundTab app={a} dirty={dirty} />,
              },
              { key: "versions", label: t("apps.tabs.versions"), children: <VersionsTab app={a} /> },
              { key: "api", label: t("apps.tabs.api"), children: <ApiTab app={a} /> },
              { key: "runs", label: t("apps.tabs.runs"), children: <RunsTab app={a} /> },
            ]}
          />
        </>
      )}
    </QueryState>
  );
}
