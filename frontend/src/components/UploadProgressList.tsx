// One row per file being uploaded: its progress, then what the server made of it.
import { CheckCircleFilled, CloseCircleFilled, CopyOutlined } from "@ant-design/icons";
import { Progress, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";

export type UploadState = "waiting" | "uploading" | "done" | "duplicate" | "failed";

export interface UploadItem {
  uid: string;
  name: string;
  size: number;
  percent: number;
  state: UploadState;
  error?: string;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function UploadProgressList({ items }: { items: UploadItem[] }) {
  const { t } = useTranslation();
  if (!items.length) return null;
  return (
    <div role="list" style={{ marginTop: 8 }}>
      {items.map((item) => (
        <div role="listitem" key={item.uid} data-testid="upload-item" style={{ padding: "8px 0", borderBottom: "1px solid #f0f0f0" }}>
          <div style={{ width: "100%" }}>
            <Space style={{ justifyContent: "space-between", width: "100%" }}>
              <Space size={6}>
                {item.state === "done" && <CheckCircleFilled style={{ color: "#52c41a" }} />}
                {item.state === "duplicate" && <CopyOutlined style={{ color: "#faad14" }} />}
                {item.state === "failed" && <CloseCircleFilled style={{ color: "#ff4d4f" }} />}
                <Typography.Text>{item.name}</Typography.Text>
                <Typography.Text type="secondary">{formatBytes(item.size)}</Typography.Text>
              </Space>
              <Typography.Text type={item.state === "failed" ? "danger" : "secondary"}>
                {t(`upload.state.${item.state}`)}
              </Typography.Text>
            </Space>
            {(item.state === "uploading" || item.state === "waiting") && (
              <Progress percent={item.percent} size="small" status="active" aria-label={item.name} />
            )}
            {item.error && (
              <Typography.Text type="danger" style={{ display: "block" }} data-testid="upload-error">
                {item.error}
              </Typography.Text>
            )}
          </div>
        </div>
      ))}
    </div>
  );
}
