// "New batch": upload the JSONL input file (its line count and size come back), pick the
// endpoint and completion window, optional metadata; create.
import { CheckCircleFilled, DeleteOutlined, InboxOutlined, MinusCircleOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation } from "@tanstack/react-query";
import { Alert, Button, Form, Input, Modal, Progress, Radio, Select, Space, Typography, Upload } from "antd";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { api, call } from "../../api/client";
import { errorMessage } from "../../api/errors";
import { uploadFiles } from "../../api/upload";
import { CopyButton } from "../../components/CopyButton";
import { ErrorAlert } from "../../components/feedback";
import { formatBytes } from "../../components/UploadProgressList";
import { useModels } from "../Models";
import { COMPLETION_WINDOWS, ENDPOINTS, exampleLine, exampleModel, metadataOf, type Batch, type BatchFile, type MetadataPair } from "./model";

interface Values {
  endpoint: string;
  completion_window: string;
  metadata?: MetadataPair[];
}

const ENDPOINT_LABEL: Record<(typeof ENDPOINTS)[number], "chat" | "embeddings"> = {
  "/v1/chat/completions": "chat",
  "/v1/embeddings": "embeddings",
};

export function NewBatchModal({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (batch: Batch) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<Values>();
  const [file, setFile] = useState<BatchFile | null>(null);
  const [uploading, setUploading] = useState<{ name: string; percent: number } | null>(null);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [missingFile, setMissingFile] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const endpoint = Form.useWatch("endpoint", form) ?? ENDPOINTS[0];
  const models = useModels();
  const example = [1, 2].map((n) => exampleLine(endpoint, exampleModel(models.data ?? [], endpoint), n)).join("\n");

  const create = useMutation({
    meta: { silent: true },
    mutationFn: (values: Values & { input_file_id: string }) =>
      call(
        api.POST("/console/api/batches", {
          body: {
            input_file_id: values.input_file_id,
            endpoint: values.endpoint,
            completion_window: values.completion_window,
            metadata: metadataOf(values.metadata),
          },
        }),
      ),
    onSuccess: (batch) => {
      onCreated(batch);
      onClose();
    },
  });

  const upload = async (chosen: File) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setFile(null);
    setUploadError(null);
    setMissingFile(false);
    setUploading({ name: chosen.name, percent: 0 });
    try {
      const stored = await uploadFiles<BatchFile>("/console/api/batch-files", [chosen], {
        field: "file",
        fields: { purpose: "batch" },
        signal: controller.signal,
        onProgress: (percent) => setUploading((u) => (u ? { ...u, percent } : u)),
      });
      if (abort.current === controller) setFile(stored);
    } catch (error) {
      if (abort.current === controller && !controller.signal.aborted) setUploadError(errorMessage(error));
    } finally {
      if (abort.current === controller) setUploading(null);
    }
  };

  const reset = () => {
    abort.current?.abort();
    abort.current = null;
    setFile(null);
    setUploading(null);
    setUploadError(null);
    setMissingFile(false);
    create.reset();
    form.resetFields();
  };

  const submit = (values: Values) => {
    if (!file) {
      setMissingFile(true);
      return;
    }
    create.mutate({ ...values, input_file_id: file.id });
  };

  return (
    <Modal
      open={open}
      title={t("batches.createTitle")}
      width={720}
      onCancel={onClose}
      afterClose={reset}
      onOk={() => form.submit()}
      okText={t("common.create")}
      okButtonProps={{ disabled: uploading !== null }}
      confirmLoading={create.isPending}
      mask={{ closable: false }}
    >
      <Form<Values> form={form} layout="vertical" onFinish={submit} initialValues={{ endpoint: ENDPOINTS[0], completion_window: "24h", metadata: [] }}>
        <Form.Item label={t("batches.inputFile")} required validateStatus={missingFile ? "error" : undefined} help={missingFile ? t("batches.upload.required") : undefined}>
          {file ? (
            <div data-testid="batch-file" style={{ border: "1px solid #d9d9d9", borderRadius: 6, padding: "8px 12px" }}>
              <Space style={{ justifyContent: "space-between", width: "100%" }} wrap>
                <Space size={8}>
                  <CheckCircleFilled style={{ color: "#52c41a" }} />
                  <Typography.Text strong>{file.filename}</Typography.Text>
                  <Typography.Text type="secondary" data-testid="batch-file-summary">
                    {t("batches.upload.summary", { lines: file.line_count.toLocaleString(), size: formatBytes(file.bytes) })}
                  </Typography.Text>
                </Space>
                <Button size="small" type="text" icon={<DeleteOutlined />} onClick={() => setFile(null)}>
                  {t("batches.upload.replace")}
                </Button>
              </Space>
            </div>
          ) : (
            <Upload.Dragger
              accept=".jsonl,.json,.txt"
              multiple={false}
              showUploadList={false}
              disabled={uploading !== null}
              // The file goes up through uploadFiles(); antd's own request is not used.
              beforeUpload={(chosen) => {
                void upload(chosen as unknown as File);
                return false;
              }}
              data-testid="batch-upload"
            >
              <p className="ant-upload-drag-icon">
                <InboxOutlined />
              </p>
              <p className="ant-upload-text">{t("batches.upload.drop")}</p>
              <p className="ant-upload-hint">{t("batches.upload.hint")}</p>
            </Upload.Dragger>
          )}
          {uploading && (
            <div style={{ marginTop: 8 }}>
              <Typography.Text type="secondary">{t("batches.upload.uploading", { name: uploading.name })}</Typography.Text>
              <Progress percent={uploading.percent} size="small" status="active" />
            </div>
          )}
          {uploadError && <Alert style={{ marginTop: 8 }} type="error" showIcon title={uploadError} data-testid="batch-upload-error" />}
        </Form.Item>

        <div style={{ marginBottom: 16 }}>
          <Typography.Text type="secondary">{t("batches.format")}</Typography.Text>
          <div style={{ position: "relative", marginTop: 4 }}>
            <pre className="code-block" data-testid="batch-example" style={{ whiteSpace: "pre", paddingRight: 48 }}>
              {example}
            </pre>
            <div style={{ position: "absolute", top: 6, right: 6 }}>
              <CopyButton text={`${example}\n`} />
            </div>
          </div>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t("batches.formatHint")}
          </Typography.Text>
        </div>

        <Space size={24} wrap align="start">
          <Form.Item name="endpoint" label={t("batches.endpoint")}>
            <Radio.Group optionType="button" options={ENDPOINTS.map((value) => ({ value, label: t(`batches.endpoints.${ENDPOINT_LABEL[value]}`) }))} />
          </Form.Item>
          <Form.Item name="completion_window" label={t("batches.window")} extra={t("batches.windowHint")} style={{ minWidth: 200 }}>
            <Select options={COMPLETION_WINDOWS.map((value) => ({ value, label: value }))} />
          </Form.Item>
        </Space>

        <Form.Item label={t("batches.metadata")} style={{ marginBottom: 0 }}>
          <Form.List name="metadata">
            {(fields, { add, remove }) => (
              <>
                {fields.map((field) => (
                  <Space key={field.key} align="baseline" style={{ display: "flex" }}>
                    <Form.Item name={[field.name, "key"]} rules={[{ required: true, message: t("batches.metadataKeyRequired") }, { max: 64 }]}>
                      <Input placeholder={t("batches.metadataKey")} style={{ width: 200 }} />
                    </Form.Item>
                    <Form.Item name={[field.name, "value"]} rules={[{ max: 512 }]}>
                      <Input placeholder={t("batches.metadataValue")} style={{ width: 320 }} />
                    </Form.Item>
                    <MinusCircleOutlined onClick={() => remove(field.name)} aria-label={t("common.delete")} />
                  </Space>
                ))}
                {fields.length < 16 && (
                  <Button type="dashed" size="small" icon={<PlusOutlined />} onClick={() => add({ key: "", value: "" })} style={{ marginBottom: 16 }}>
                    {t("batches.metadataAdd")}
                  </Button>
                )}
              </>
            )}
          </Form.List>
        </Form.Item>
      </Form>
      {create.error && <ErrorAlert error={create.error} />}
    </Modal>
  );
}
