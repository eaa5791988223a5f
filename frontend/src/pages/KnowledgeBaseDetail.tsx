// One knowledge base: upload, documents (live status while ingesting), chunks, hit test.
import { ArrowLeftOutlined, DeleteOutlined, EditOutlined, EyeOutlined, ReloadOutlined, ScanOutlined, SearchOutlined, WarningOutlined } from "@ant-design/icons";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  Button,
  Card,
  Col,
  Descriptions,
  Drawer,
  Empty,
  Form,
  Input,
  InputNumber,
  Modal,
  Pagination,
  Popconfirm,
  Popover,
  Progress,
  Row,
  Segmented,
  Select,
  Slider,
  Space,
  Switch,
  Table,
  Tabs,
  Tag,
  Tooltip,
  Typography,
} from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { DocumentUploader } from "../components/DocumentUploader";
import { EmptyState, ErrorAlert, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { ingestProgressText, pagesPercent, pagesProgressText } from "../components/ingestProgress";
import { ParserField, RerankFields, type Parser, type RerankMode } from "../components/knowledgeSettings";
import { formatBytes } from "../components/UploadProgressList";
import { useWorkspace, useWsKey } from "../session/workspace";

type Doc = Schemas["DocumentOut"];
type Hit = Schemas["HitOut"];
type DocStatus = Doc["status"];

const IN_FLIGHT: DocStatus[] = ["queued", "parsing", "chunking", "embedding"];
const STATUS_COLOR: Record<DocStatus, string> = {
  queued: "default",
  parsing: "processing",
  chunking: "processing",
  embedding: "processing",
  ready: "success",
  failed: "error",
};
const PAGE_SIZE = 20;

export function StatusCell({ doc }: { doc: Doc }) {
  const { t, i18n } = useTranslation();
  const inFlight = IN_FLIGHT.includes(doc.status);
  // While parsing, the pages read of those the loader reported; then the chunks embedded.
  const pages = pagesPercent(doc);
  const progressText = inFlight ? (pagesProgressText(doc, t, i18n.language) ?? ingestProgressText(doc, t, i18n.language)) : null;
  return (
    <div style={{ minWidth: 140 }}>
      <Tag color={STATUS_COLOR[doc.status]} data-testid="doc-status">
        {t(`kb.status.${doc.status}`)}
      </Tag>
      {inFlight && <Progress percent={pages ?? doc.progress} size="small" style={{ margin: 0 }} />}
      {progressText && (
        <Typography.Text type="secondary" style={{ fontSize: 12, whiteSpace: "nowrap" }} data-testid="doc-progress">
          {progressText}
        </Typography.Text>
      )}
      {doc.status === "failed" && doc.error && (
        <Typography.Paragraph type="danger" style={{ margin: "4px 0 0", fontSize: 12, maxWidth: 320 }} ellipsis={{ rows: 3, tooltip: doc.error }}>
          {doc.error}
        </Typography.Paragraph>
      )}
    </div>
  );
}

/** The parser a document was read with, when not the automatic one, and what could not be read. */
export function DocumentBadges({ doc }: { doc: Doc }) {
  const { t } = useTranslation();
  const warnings = IN_FLIGHT.includes(doc.status) ? [] : doc.warnings;
  return (
    <>
      {doc.parser !== "auto" && (
        <Tooltip title={`${t("kb.parser.label")}: ${t(`kb.parser.options.${doc.parser}` as "kb.parser.options.auto")}`}>
          <Tag color={doc.parser === "ocr" ? "cyan" : "default"} style={{ fontSize: 11 }} data-testid="doc-parser">
            {t(`kb.parser.tag.${doc.parser}` as "kb.parser.tag.auto")}
          </Tag>
        </Tooltip>
      )}
      {warnings.length > 0 && (
        <Popover
          title={t("kb.warningsTitle")}
          content={
            <ul style={{ margin: 0, paddingLeft: 18, maxWidth: 420, maxHeight: 300, overflowY: "auto" }} data-testid="doc-warning-list">
              {warnings.map((warning, index) => (
                <li key={index}>{warning}</li>
              ))}
            </ul>
          }
        >
          <Tag color="warning" icon={<WarningOutlined />} style={{ fontSize: 11, cursor: "help" }} data-testid="doc-warnings" tabIndex={0}>
            {t("kb.warnings", { n: warnings.length })}
          </Tag>
        </Popover>
      )}
    </>
  );
}

function ChunksDrawer({ kbId, doc, onClose }: { kbId: string; doc: Doc | null; onClose: () => void }) {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const [page, setPage] = useState(1);
  const chunks = useQuery({
    enabled: doc !== null,
    queryKey: wsKey("chunks", doc?.id, page),
    placeholderData: keepPreviousData,
    queryFn: () =>
      call(
        api.GET("/console/api/knowledge-bases/{knowledge_base_id}/documents/{document_id}/chunks", {
          params: { path: { knowledge_base_id: kbId, document_id: doc!.id }, query: { limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE } },
        }),
      ),
  });
  return (
    <Drawer open={doc !== null} onClose={onClose} width={720} title={doc ? t("kb.chunksOf", { name: doc.name }) : ""} destroyOnHidden afterOpenChange={(open) => !open && setPage(1)}>
      <QueryState query={chunks}>
        {!chunks.data?.items.length && <EmptyState title={t("kb.noChunks")} hint={t("kb.noChunksHint")} />}
        {chunks.data?.items.map((chunk) => {
          const meta = chunk.metadata as { page?: number; section?: string; row?: number };
          return (
            <div key={chunk.id} data-testid="chunk" style={{ padding: "10px 0", borderBottom: "1px solid #f0f0f0" }}>
              <Space size={4} wrap style={{ marginBottom: 4 }}>
                <Tag>#{chunk.ordinal + 1}</Tag>
                <Tag>{t("kb.tokens", { n: chunk.token_count })}</Tag>
                {meta.page != null && <Tag color="blue">{t("kb.page", { n: meta.page })}</Tag>}
                {meta.section && <Tag color="purple">{meta.section}</Tag>}
                {meta.row != null && <Tag>{t("kb.row", { n: meta.row })}</Tag>}
              </Space>
              <pre className="chunk-text">{chunk.text}</pre>
            </div>
          );
        })}
        <Pagination style={{ marginTop: 12 }} size="small" current={page} pageSize={PAGE_SIZE} total={chunks.data?.count ?? 0} onChange={setPage} hideOnSinglePage showSizeChanger={false} />
      </QueryState>
    </Drawer>
  );
}

function DocumentsTab({ kb }: { kb: Schemas["KnowledgeBaseOut"] }) {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const { can } = useWorkspace();
  const editable = can("editKnowledge");
  const [status, setStatus] = useState<DocStatus | undefined>();
  const [page, setPage] = useState(1);
  const [viewing, setViewing] = useState<Doc | null>(null);
  const docs = useQuery({
    queryKey: wsKey("documents", kb.id, status, page),
    placeholderData: keepPreviousData,
    queryFn: () =>
      call(
        api.GET("/console/api/knowledge-bases/{knowledge_base_id}/documents", {
          params: { path: { knowledge_base_id: kb.id }, query: { status, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE } },
        }),
      ),
    // Live status: poll while anything on the page is still being ingested.
    refetchInterval: (query) => (query.state.data?.items.some((d) => IN_FLIGHT.includes(d.status)) ? 2000 : false),
  });
  const refresh = () => {
    void client.invalidateQueries({ queryKey: wsKey("documents", kb.id) });
    void client.invalidateQueries({ queryKey: wsKey("knowledge-base", kb.id) });
    void client.invalidateQueries({ queryKey: wsKey("knowledge-bases") });
  };
  // When a document settles, the knowledge base's counts change too.
  const inFlight = docs.data?.items.filter((d) => IN_FLIGHT.includes(d.status)).length ?? 0;
  useEffect(() => {
    void client.invalidateQueries({ queryKey: wsKey("knowledge-base", kb.id) });
  }, [inFlight, client, wsKey, kb.id]);
  const path = (id: string) => ({ params: { path: { knowledge_base_id: kb.id, document_id: id } } });
  const reindex = useMutation({
    // Without a parser, the one the document was read with; "ocr" reads every page again by OCR.
    mutationFn: ({ id, parser }: { id: string; parser?: Parser }) =>
      call(
        api.POST("/console/api/knowledge-bases/{knowledge_base_id}/documents/{document_id}/reindex", {
          params: { path: { knowledge_base_id: kb.id, document_id: id }, query: parser ? { parser } : {} },
        }),
      ),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/knowledge-bases/{knowledge_base_id}/documents/{document_id}", path(id))),
    onSuccess: refresh,
  });
  return (
    <Space direction="vertical" size={16} style={{ width: "100%" }}>
      {editable && <DocumentUploader knowledgeBaseId={kb.id} defaultParser={kb.parser} onUploaded={refresh} />}
      <Space>
        <Select
          allowClear
          placeholder={t("kb.filterStatus")}
          style={{ width: 180 }}
          value={status}
          onChange={(v) => {
            setStatus(v);
            setPage(1);
          }}
          options={(["queued", "parsing", "chunking", "embedding", "ready", "failed"] as const).map((s) => ({ value: s, label: t(`kb.status.${s}`) }))}
        />
        <Button icon={<ReloadOutlined />} onClick={refresh}>
          {t("common.refresh")}
        </Button>
      </Space>
      {docs.error ? <ErrorAlert error={docs.error} /> : null}
      <Table<Doc>
        rowKey="id"
        loading={docs.isPending}
        dataSource={docs.data?.items ?? []}
        size="middle"
        scroll={{ x: 960 }}
        pagination={{ current: page, pageSize: PAGE_SIZE, total: docs.data?.count ?? 0, onChange: setPage, hideOnSinglePage: true }}
        locale={{ emptyText: <EmptyState title={status ? t("kb.noDocsWithStatus") : t("kb.noDocs")} hint={editable && !status ? t("kb.noDocsHint") : undefined} /> }}
        columns={[
          {
            title: t("kb.document"),
            dataIndex: "name",
            render: (name: string, d) => (
              <Space direction="vertical" size={0}>
                <Typography.Text strong>{name}</Typography.Text>
                <Space size={4} wrap>
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {formatBytes(d.size)}
                    {d.loader ? ` · ${d.loader}` : ""}
                  </Typography.Text>
                  <DocumentBadges doc={d} />
                  {d.tags.map((tag) => (
                    <Tag key={tag} style={{ fontSize: 11 }}>
                      {tag}
                    </Tag>
                  ))}
                </Space>
              </Space>
            ),
          },
          { title: t("kb.statusTitle"), render: (_, d) => <StatusCell doc={d} /> },
          { title: t("kb.chunks"), dataIndex: "chunk_count", align: "right" },
          { title: t("kb.tokenCount"), dataIndex: "token_count", align: "right" },
          { title: t("kb.uploaded"), dataIndex: "created_at", render: (v: string) => new Date(v).toLocaleString() },
          {
            title: "",
            align: "right",
            render: (_, d) => (
              <Space size={0}>
                <Tooltip title={t("kb.viewChunks")}>
                  <Button type="text" size="small" icon={<EyeOutlined />} onClick={() => setViewing(d)} disabled={!d.chunk_count} aria-label={t("kb.viewChunks")} />
                </Tooltip>
                {editable && (
                  <Tooltip title={t("kb.reindex")}>
                    <Button type="text" size="small" icon={<ReloadOutlined />} onClick={() => reindex.mutate({ id: d.id })} disabled={IN_FLIGHT.includes(d.status)} aria-label={t("kb.reindex")} />
                  </Tooltip>
                )}
                {editable && (
                  <Tooltip title={t("kb.reindexOcr")}>
                    <Button
                      type="text"
                      size="small"
                      icon={<ScanOutlined />}
                      onClick={() => reindex.mutate({ id: d.id, parser: "ocr" })}
                      disabled={IN_FLIGHT.includes(d.status)}
                      aria-label={t("kb.reindexOcr")}
                    />
                  </Tooltip>
                )}
                {editable && (
                  <Popconfirm title={t("kb.deleteDocConfirm", { name: d.name })} okButtonProps={{ danger: true }} onConfirm={() => remove.mutateAsync(d.id)}>
                    <Button type="text" size="small" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} />
                  </Popconfirm>
                )}
              </Space>
            ),
          },
        ]}
      />
      <ChunksDrawer kbId={kb.id} doc={viewing} onClose={() => setViewing(null)} />
    </Space>
  );
}

interface HitTestForm {
  query: string;
  mode: "vector" | "fulltext" | "hybrid";
  top_k: number;
  score_threshold: number;
  rerank: boolean;
  tags: string[];
}

function StageScores({ hit }: { hit: Hit }) {
  const scores = hit.scores as Record<string, number>;
  const ranks = hit.ranks as Record<string, number>;
  return (
    <Space size={4} wrap>
      {Object.entries(scores).map(([stage, score]) => (
        <Tag key={stage} data-testid="stage-score">
          {stage} {Number(score).toFixed(3)}
          {ranks[stage] != null ? ` · #${ranks[stage]}` : ""}
        </Tag>
      ))}
    </Space>
  );
}

function HitTestTab({ kb }: { kb: Schemas["KnowledgeBaseOut"] }) {
  const { t } = useTranslation();
  const defaults = kb.retrieval as Partial<HitTestForm> & { score_threshold?: number | null };
  const [form] = Form.useForm<HitTestForm>();
  const test = useMutation({
    meta: { silent: true },
    mutationFn: (v: HitTestForm) =>
      call(
        api.POST("/console/api/knowledge-bases/{knowledge_base_id}/hit-test", {
          params: { path: { knowledge_base_id: kb.id } },
          body: { query: v.query, mode: v.mode, top_k: v.top_k, score_threshold: v.score_threshold || null, rerank: v.rerank, tags: v.tags ?? [] },
        }),
      ),
  });
  return (
    <Row gutter={24}>
      <Col xs={24} lg={9}>
        <Form<HitTestForm>
          form={form}
          layout="vertical"
          initialValues={{ mode: defaults.mode ?? "hybrid", top_k: defaults.top_k ?? 5, score_threshold: defaults.score_threshold ?? 0, rerank: Boolean(defaults.rerank), tags: [] }}
          onFinish={(v) => test.mutate(v)}
        >
          <Form.Item name="query" label={t("hit.query")} rules={[{ required: true, message: t("hit.queryRequired") }]}>
            <Input.TextArea rows={3} placeholder={t("hit.queryPlaceholder")} />
          </Form.Item>
          <Form.Item name="mode" label={t("kb.retrieval.mode")}>
            <Segmented block options={(["hybrid", "vector", "fulltext"] as const).map((m) => ({ value: m, label: t(`kb.retrieval.modes.${m}`) }))} />
          </Form.Item>
          <Row gutter={12}>
            <Col span={10}>
              <Form.Item name="top_k" label={t("kb.retrieval.topK")}>
                <InputNumber min={1} max={100} style={{ width: "100%" }} />
              </Form.Item>
            </Col>
            <Col span={14}>
              <Form.Item name="score_threshold" label={t("kb.retrieval.threshold")}>
                <Slider min={0} max={1} step={0.05} />
              </Form.Item>
            </Col>
          </Row>
          <Form.Item name="rerank" label={t("kb.retrieval.rerank")} valuePropName="checked" extra={kb.rerank_model ? `${kb.rerank_model} · ${t(`kb.rerankMode.options.${kb.rerank_mode}` as "kb.rerankMode.options.pointwise")}` : t("hit.noRerankModel")}>
            <Switch disabled={!kb.rerank_model} />
          </Form.Item>
          <Form.Item name="tags" label={t("hit.tags")}>
            <Select mode="tags" placeholder={t("hit.tagsPlaceholder")} open={false} />
          </Form.Item>
          <Button type="primary" htmlType="submit" icon={<SearchOutlined />} loading={test.isPending} block>
            {t("hit.run")}
          </Button>
        </Form>
      </Col>
      <Col xs={24} lg={15}>
        {test.error ? <ErrorAlert error={test.error} /> : null}
        {!test.data && !test.error && <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("hit.empty")} />}
        {test.data && (
          <>
            <Typography.Text type="secondary">{t("hit.summary", { n: test.data.hits.length, mode: test.data.mode, ms: test.data.took_ms })}</Typography.Text>
            {!test.data.hits.length && <EmptyState title={t("hit.noHits")} hint={t("hit.noHitsHint")} />}
            {test.data.hits.map((hit, index) => (
              <div key={hit.chunk_id} data-testid="hit" style={{ padding: "12px 0", borderBottom: "1px solid #f0f0f0" }}>
                <Space style={{ justifyContent: "space-between", width: "100%" }} wrap>
                  <Space size={6} wrap>
                    <Tag color="geekblue">#{index + 1}</Tag>
                    <Typography.Text strong>{hit.document_name}</Typography.Text>
                    {hit.page != null && <Tag>{t("kb.page", { n: hit.page })}</Tag>}
                    {hit.section && <Tag color="purple">{hit.section}</Tag>}
                  </Space>
                  <Space size={6}>
                    <Typography.Text type="secondary">{t("hit.score")}</Typography.Text>
                    <Progress percent={Math.round(hit.score * 100)} size="small" style={{ width: 120, margin: 0 }} format={() => hit.score.toFixed(3)} />
                  </Space>
                </Space>
                <StageScores hit={hit} />
                <pre className="chunk-text" style={{ marginTop: 6 }}>
                  {hit.text}
                </pre>
              </div>
            ))}
          </>
        )}
      </Col>
    </Row>
  );
}

interface EditForm {
  name: string;
  description?: string;
  parser: Parser;
  rerank_mode: RerankMode;
  rerank_model?: string | null;
}

/** Name, description, how files are read and how hits are reranked (the embedding model is fixed). */
function EditModal({ kb, open, onClose }: { kb: Schemas["KnowledgeBaseOut"]; open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<EditForm>();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: (v: EditForm) =>
      call(
        api.PATCH("/console/api/knowledge-bases/{knowledge_base_id}", {
          params: { path: { knowledge_base_id: kb.id } },
          body: { name: v.name, description: v.description ?? "", parser: v.parser, rerank_mode: v.rerank_mode, rerank_model: v.rerank_model ?? null },
        }),
      ),
    onSuccess: (updated) => {
      client.setQueryData(wsKey("knowledge-base", kb.id), updated);
      void client.invalidateQueries({ queryKey: wsKey("knowledge-bases") });
      onClose();
    },
  });
  return (
    <Modal open={open} title={t("kb.edit.title")} onCancel={onClose} onOk={() => form.submit()} okText={t("kb.edit.save")} confirmLoading={save.isPending} width={560} destroyOnHidden>
      <Form<EditForm>
        form={form}
        layout="vertical"
        initialValues={{ name: kb.name, description: kb.description, parser: kb.parser, rerank_mode: kb.rerank_mode, rerank_model: kb.rerank_model ?? undefined }}
        onFinish={(v) => save.mutate(v)}
      >
        <Form.Item name="name" label={t("kb.name")} rules={[{ required: true, message: t("kb.create.nameRequired") }, { max: 200 }]}>
          <Input />
        </Form.Item>
        <Form.Item name="description" label={t("kb.description")}>
          <Input.TextArea rows={2} />
        </Form.Item>
        <ParserField note={t("kb.edit.parserLater")} />
        <RerankFields />
      </Form>
    </Modal>
  );
}

function SettingsTab({ kb }: { kb: Schemas["KnowledgeBaseOut"] }) {
  const { t } = useTranslation();
  const { can } = useWorkspace();
  const [editing, setEditing] = useState(false);
  const chunking = (kb.chunking ?? {}) as Record<string, unknown>;
  const retrieval = (kb.retrieval ?? {}) as Record<string, unknown>;
  return (
    <Space direction="vertical" size={12} style={{ width: "100%" }}>
      {can("editKnowledge") && (
        <Button icon={<EditOutlined />} onClick={() => setEditing(true)}>
          {t("kb.edit.button")}
        </Button>
      )}
      <Descriptions bordered size="small" column={{ xs: 1, md: 2 }}>
        <Descriptions.Item label={t("kb.embeddingModel")}>
          {kb.embedding_model} · {kb.embedding_dimension}d
        </Descriptions.Item>
        <Descriptions.Item label={kb.rerank_mode === "listwise" ? t("kb.rerankMode.chatModel") : t("kb.rerankModel")}>
          {kb.rerank_model ?? "—"}
          {kb.rerank_model ? ` · ${t(`kb.rerankMode.options.${kb.rerank_mode}` as "kb.rerankMode.options.pointwise")}` : ""}
        </Descriptions.Item>
        <Descriptions.Item label={t("kb.parser.label")}>{t(`kb.parser.options.${kb.parser}` as "kb.parser.options.auto")}</Descriptions.Item>
        <Descriptions.Item label={t("kb.chunking.title")}>
          {t(`kb.chunking.modes.${String(chunking.mode)}` as "kb.chunking.modes.auto")} · {String(chunking.chunk_size)} / {String(chunking.chunk_overlap)}
          {chunking.separator_regex ? ` · ${String(chunking.separator_regex)}` : ""}
        </Descriptions.Item>
        <Descriptions.Item label={t("kb.retrieval.title")}>
          {t(`kb.retrieval.modes.${String(retrieval.mode)}` as "kb.retrieval.modes.hybrid")} · top {String(retrieval.top_k)}
          {retrieval.score_threshold != null ? ` · ≥ ${String(retrieval.score_threshold)}` : ""}
          {retrieval.rerank ? ` · ${t("kb.retrieval.rerank")}` : ""}
        </Descriptions.Item>
        <Descriptions.Item label={t("kb.description")}>{kb.description || "—"}</Descriptions.Item>
      </Descriptions>
      <EditModal kb={kb} open={editing} onClose={() => setEditing(false)} />
    </Space>
  );
}

export function KnowledgeBaseDetailPage() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const wsKey = useWsKey();
  const kb = useQuery({
    queryKey: wsKey("knowledge-base", id),
    queryFn: () => call(api.GET("/console/api/knowledge-bases/{knowledge_base_id}", { params: { path: { knowledge_base_id: id } } })),
  });
  const data = kb.data;
  return (
    <>
      <PageHeader
        title={
          <Space>
            <Link to="/knowledge-bases" aria-label={t("common.back")}>
              <ArrowLeftOutlined />
            </Link>
            {data?.name ?? t("nav.knowledgeBases")}
          </Space>
        }
        subtitle={data ? t("kb.stats", { docs: data.document_count, chunks: data.chunk_count, model: data.embedding_model }) : undefined}
      />
      <QueryState query={kb}>
        {data && (
          <Card size="small">
            <Tabs
              items={[
                { key: "documents", label: t("kb.tabs.documents"), children: <DocumentsTab kb={data} /> },
                { key: "hit-test", label: t("kb.tabs.hitTest"), children: <HitTestTab kb={data} /> },
                { key: "settings", label: t("kb.tabs.settings"), children: <SettingsTab kb={data} /> },
              ]}
            />
          </Card>
        )}
      </QueryState>
    </>
  );
}
