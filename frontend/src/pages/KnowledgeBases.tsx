// Knowledge bases: the list, and creating one with its embedding model, chunking and
// retrieval settings.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Col, Collapse, Form, Input, InputNumber, Modal, Row, Select, Switch } from "antd";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { ParserField, RerankFields, type Parser, type RerankMode } from "../components/knowledgeSettings";
import { EmbeddingModelGuide } from "../components/EmbeddingModelGuide";
import { deleteColumn, ListPage, nameColumn, updatedColumn } from "../components/ListPage";
import { useWorkspace, useWsKey } from "../session/workspace";
import { useModels } from "./Models";

export type KnowledgeBase = Schemas["KnowledgeBaseOut"];

export function useKnowledgeBases() {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("knowledge-bases"), queryFn: () => call(api.GET("/console/api/knowledge-bases")) });
}

interface CreateForm {
  name: string;
  description?: string;
  embedding_model?: string;
  rerank_model?: string;
  parser?: Parser;
  rerank_mode?: RerankMode;
  chunking: { mode: "auto" | "length" | "heading" | "regex"; chunk_size: number; chunk_overlap: number; separator_regex?: string };
  retrieval: { mode: "vector" | "fulltext" | "hybrid"; top_k: number; score_threshold?: number | null; rerank: boolean };
}

const DEFAULTS: Pick<CreateForm, "chunking" | "retrieval"> = {
  chunking: { mode: "auto", chunk_size: 512, chunk_overlap: 64 },
  retrieval: { mode: "hybrid", top_k: 5, score_threshold: null, rerank: false },
};

function CreateModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<CreateForm>();
  const models = useModels();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const navigate = useNavigate();
  const embedding = (models.data ?? []).filter((m) => m.capabilities.includes("embedding"));
  const chunkMode = Form.useWatch(["chunking", "mode"], form);
  const rerankModel = Form.useWatch("rerank_model", form);
  const create = useMutation({
    mutationFn: (submitted: CreateForm) => {
      // Fields of a closed panel are not in `submitted`: read the whole store.
      const values = { ...DEFAULTS, ...form.getFieldsValue(true), ...submitted } as CreateForm;
      const chunking = { ...DEFAULTS.chunking, ...values.chunking };
      if (chunking.mode !== "regex") delete chunking.separator_regex;
      const retrieval = { ...DEFAULTS.retrieval, ...values.retrieval };
      retrieval.score_threshold = retrieval.score_threshold ?? null;
      return call(
        api.POST("/console/api/knowledge-bases", {
          body: {
            name: values.name,
            description: values.description ?? "",
            embedding_model: values.embedding_model ?? null,
            rerank_model: values.rerank_model ?? null,
            parser: values.parser ?? "auto",
            rerank_mode: values.rerank_mode ?? "pointwise",
            chunking,
            retrieval,
          },
        }),
      );
    },
    onSuccess: (kb) => {
      void client.invalidateQueries({ queryKey: wsKey("knowledge-bases") });
      form.resetFields();
      onClose();
      navigate(`/knowledge-bases/${kb.id}`);
    },
  });
  const defaultEmbedding = embedding.find((m) => m.is_default)?.name;
  return (
    <Modal
      open={open}
      title={t("kb.create.title")}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t("common.create")}
      confirmLoading={create.isPending}
      width={640}
      destroyOnHidden
    >
      <Form<CreateForm> form={form} layout="vertical" initialValues={{ ...DEFAULTS, parser: "auto", rerank_mode: "pointwise" }} onFinish={(v) => create.mutate(v)}>
        <Form.Item name="name" label={t("kb.name")} rules={[{ required: true, message: t("kb.create.nameRequired") }, { max: 200 }]}>
          <Input autoFocus placeholder={t("kb.create.namePlaceholder")} />
        </Form.Item>
        <Form.Item name="description" label={t("kb.description")}>
          <Input.TextArea rows={2} />
        </Form.Item>
        <Form.Item
          name="embedding_model"
          label={t("kb.embeddingModel")}
          extra={
            <>
              {t("kb.create.embeddingFixed")}
              <EmbeddingModelGuide offered={embedding.map((m) => m.name)} />
            </>
          }
        >
          <Select
            allowClear
            placeholder={defaultEmbedding ? t("kb.create.defaultModel", { name: defaultEmbedding }) : t("kb.create.pickModel")}
            options={embedding.map((m) => ({
              value: m.name,
              label: `${m.display_name || m.name}${m.embedding_dimension ? ` · ${m.embedding_dimension}d` : ""}${m.is_default ? ` (${t("models.default")})` : ""}`,
            }))}
            notFoundContent={t("kb.create.noEmbedding")}
          />
        </Form.Item>
        <ParserField />
        <RerankFields />
        <Collapse
          size="small"
          defaultActiveKey={["chunking"]}
          items={[
            {
              key: "chunking",
              label: t("kb.chunking.title"),
              forceRender: true,
              children: (
                <Row gutter={12}>
                  <Col span={8}>
                    <Form.Item name={["chunking", "mode"]} label={t("kb.chunking.mode")}>
                      <Select options={(["auto", "length", "heading", "regex"] as const).map((m) => ({ value: m, label: t(`kb.chunking.modes.${m}`) }))} />
                    </Form.Item>
                  </Col>
                  <Col span={8}>
                    <Form.Item name={["chunking", "chunk_size"]} label={t("kb.chunking.size")} rules={[{ required: true }]}>
                      <InputNumber min={32} max={8192} style={{ width: "100%" }} />
                    </Form.Item>
                  </Col>
                  <Col span={8}>
                    <Form.Item name={["chunking", "chunk_overlap"]} label={t("kb.chunking.overlap")} rules={[{ required: true }]}>
                      <InputNumber min={0} max={4096} style={{ width: "100%" }} />
                    </Form.Item>
                  </Col>
                  {chunkMode === "regex" && (
                    <Col span={24}>
                      <Form.Item name={["chunking", "separator_regex"]} label={t("kb.chunking.separator")} rules={[{ required: true }]}>
                        <Input placeholder="^第.+条" />
                      </Form.Item>
                    </Col>
                  )}
                </Row>
              ),
            },
            {
              key: "retrieval",
              label: t("kb.retrieval.title"),
              forceRender: true,
              children: (
                <Row gutter={12}>
                  <Col span={8}>
                    <Form.Item name={["retrieval", "mode"]} label={t("kb.retrieval.mode")}>
                      <Select options={(["hybrid", "vector", "fulltext"] as const).map((m) => ({ value: m, label: t(`kb.retrieval.modes.${m}`) }))} />
                    </Form.Item>
                  </Col>
                  <Col span={5}>
                    <Form.Item name={["retrieval", "top_k"]} label={t("kb.retrieval.topK")}>
                      <InputNumber min={1} max={100} style={{ width: "100%" }} />
                    </Form.Item>
                  </Col>
                  <Col span={6}>
                    <Form.Item name={["retrieval", "score_threshold"]} label={t("kb.retrieval.threshold")}>
                      <InputNumber min={0} max={1} step={0.05} style={{ width: "100%" }} placeholder={t("kb.retrieval.none")} />
                    </Form.Item>
                  </Col>
                  <Col span={5}>
                    <Form.Item name={["retrieval", "rerank"]} label={t("kb.retrieval.rerank")} valuePropName="checked">
                      <Switch disabled={!rerankModel} />
                    </Form.Item>
                  </Col>
                </Row>
              ),
            },
          ]}
        />
      </Form>
    </Modal>
  );
}

export function KnowledgeBasesPage() {
  const { t } = useTranslation();
  const kbs = useKnowledgeBases();
  const { can } = useWorkspace();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/knowledge-bases/{knowledge_base_id}", { params: { path: { knowledge_base_id: id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: wsKey("knowledge-bases") }),
  });
  const editable = can("editKnowledge");
  return (
    <ListPage<KnowledgeBase>
      title={t("nav.knowledgeBases")}
      subtitle={t("kb.subtitle")}
      query={kbs}
      create={editable ? { label: t("kb.create.button"), dialog: (open, close) => <CreateModal open={open} onClose={close} /> } : null}
      empty={{ title: t("kb.empty.title"), hint: editable ? t("kb.empty.hint") : t("kb.empty.viewerHint") }}
      rowKey="id"
      scrollX={800}
      columns={[
        nameColumn<KnowledgeBase>(t("kb.name"), (kb) => `/knowledge-bases/${kb.id}`),
        { title: t("kb.embeddingModel"), dataIndex: "embedding_model" },
        { title: t("kb.documents"), dataIndex: "document_count", align: "right" },
        { title: t("kb.chunks"), dataIndex: "chunk_count", align: "right" },
        updatedColumn<KnowledgeBase>(t("common.updated")),
        deleteColumn<KnowledgeBase>({ allowed: editable, confirm: (kb) => t("kb.deleteConfirm", { name: kb.name }), label: t("common.delete"), onDelete: (kb) => remove.mutateAsync(kb.id) }),
      ]}
    />
  );
}
