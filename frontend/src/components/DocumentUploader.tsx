// Drag and drop several files; each goes up as its own request (repeated `files` field,
// with the tags, metadata and parser), two at a time, with its own progress and outcome.
import { InboxOutlined } from "@ant-design/icons";
import { Button, Col, Form, Input, Row, Upload } from "antd";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { Schemas } from "../api/client";
import { errorMessage } from "../api/errors";
import { uploadFiles } from "../api/upload";
import { ParserSelect, parserHelp, type Parser } from "./knowledgeSettings";
import { UploadProgressList, type UploadItem } from "./UploadProgressList";

const CONCURRENCY = 2;

/** The file types the built-in loaders read (the upload's hint says the same in words).
 * Slides (.pptx), and images read by OCR; scanned PDF pages are read by OCR too. */
export const ACCEPTED_TYPES = [
  ".pdf",
  ".docx",
  ".pptx",
  ".xlsx",
  ".xlsm",
  ".csv",
  ".tsv",
  ".md",
  ".markdown",
  ".html",
  ".htm",
  ".xhtml",
  ".txt",
  ".text",
  ".png",
  ".jpg",
  ".jpeg",
  ".bmp",
  ".tif",
  ".tiff",
  ".webp",
].join(",");

export function DocumentUploader({
  knowledgeBaseId,
  defaultParser = "auto",
  onUploaded,
}: {
  knowledgeBaseId: string;
  /** The knowledge base's parser: what this upload uses unless another is picked. */
  defaultParser?: Parser;
  onUploaded: () => void;
}) {
  const { t } = useTranslation();
  const [items, setItems] = useState<UploadItem[]>([]);
  const [parser, setParser] = useState<Parser>(defaultParser);
  useEffect(() => setParser(defaultParser), [defaultParser]);
  const [tags, setTags] = useState("");
  const [metadata, setMetadata] = useState("");
  const [metadataError, setMetadataError] = useState<string | null>(null);
  const counter = useRef(0);

  const patch = (uid: string, change: Partial<UploadItem>) =>
    setItems((all) => all.map((item) => (item.uid === uid ? { ...item, ...change } : item)));

  const start = async (files: File[]) => {
    if (metadata.trim()) {
      try {
        const parsed: unknown = JSON.parse(metadata);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
        setMetadataError(null);
      } catch {
        setMetadataError(t("upload.metadataInvalid"));
        return;
      }
    }
    const batch = files.map((file) => ({ file, uid: `u${++counter.current}` }));
    setItems((all) => [
      ...batch.map(({ file, uid }) => ({ uid, name: file.name, size: file.size, percent: 0, state: "waiting" as const })),
      ...all.filter((item) => item.state === "uploading" || item.state === "waiting"),
    ]);
    const queue = [...batch];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { file, uid } = next;
        patch(uid, { state: "uploading" });
        try {
          const result = await uploadFiles<Schemas["UploadOut"]>(`/console/api/knowledge-bases/${knowledgeBaseId}/documents`, [file], {
            fields: { tags, metadata: metadata.trim(), parser },
            onProgress: (percent) => patch(uid, { percent }),
          });
          patch(uid, { state: result.documents[0]?.duplicate ? "duplicate" : "done", percent: 100 });
        } catch (error) {
          patch(uid, { state: "failed", error: errorMessage(error) });
        }
        onUploaded();
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batch.length) }, worker));
  };

  return (
    <div>
      <Upload.Dragger
        multiple
        showUploadList={false}
        // The file picker offers the supported types; a dropped file of another type still
        // goes up, and the server's answer says which types it reads.
        accept={{ format: ACCEPTED_TYPES, filter: "native" }}
        // Files are collected here and sent by start(); antd's own request is not used.
        beforeUpload={(_file, list) => {
          if (_file === list[0]) void start(list as unknown as File[]);
          return false;
        }}
        data-testid="upload-dragger"
      >
        <p className="ant-upload-drag-icon">
          <InboxOutlined />
        </p>
        <p className="ant-upload-text">{t("upload.drop")}</p>
        <p className="ant-upload-hint">{t("upload.hint")}</p>
      </Upload.Dragger>
      <Row gutter={12} style={{ marginTop: 12 }}>
        <Col xs={24} md={8}>
          <Form.Item label={t("upload.parser")} htmlFor="upload-parser" style={{ marginBottom: 8 }} extra={parserHelp(parser, t)}>
            <ParserSelect id="upload-parser" value={parser} onChange={setParser} />
          </Form.Item>
        </Col>
        <Col xs={24} md={6}>
          <Form.Item label={t("upload.tags")} style={{ marginBottom: 8 }}>
            <Input value={tags} onChange={(e) => setTags(e.target.value)} placeholder="hr,2026" />
          </Form.Item>
        </Col>
        <Col xs={24} md={10}>
          <Form.Item label={t("upload.metadata")} style={{ marginBottom: 8 }} validateStatus={metadataError ? "error" : undefined} help={metadataError}>
            <Input value={metadata} onChange={(e) => setMetadata(e.target.value)} placeholder='{"dept": "HR"}' />
          </Form.Item>
        </Col>
      </Row>
      <UploadProgressList items={items} />
      {items.some((i) => i.state !== "uploading" && i.state !== "waiting") && (
        <Button size="small" type="link" onClick={() => setItems((all) => all.filter((i) => i.state === "uploading" || i.state === "waiting"))}>
          {t("upload.clear")}
        </Button>
      )}
    </div>
  );
}
