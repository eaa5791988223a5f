// The draft editor: model, prompt with {{variables}}, knowledge, tools, parameters.
// Save replaces the draft (PUT /apps/{id}/draft); the API's message shows when it refuses.
import { DeleteOutlined, PlusOutlined, SaveOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Col, Form, Input, InputNumber, Row, Select, Space, Switch, Typography } from "antd";
import { useEffect, useMemo } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api, call } from "../../api/client";
import { ErrorAlert, notifySuccess } from "../../components/feedback";
import { useWorkspace, useWsKey } from "../../session/workspace";
import { useKnowledgeBases } from "../KnowledgeBases";
import { useModels } from "../Models";
import { promptVariables } from "./citations";
import { mcpToolGroups, normalizeConfig, useHttpTools, useMcpServers, useTools, type App, type AppConfig, type ToolType, type Variable } from "./model";

type RerankChoice = "default" | "on" | "off";
interface FormValues extends Omit<AppConfig, "tools" | "knowledge"> {
  tool_keys: string[];
  knowledge: Omit<NonNullable<AppConfig["knowledge"]>, "rerank" | "mode"> & { rerank: RerankChoice; mode: "" | "vector" | "fulltext" | "hybrid" };
}

function toForm(config: AppConfig): FormValues {
  const { tools, knowledge, ...rest } = config;
  const k = knowledge!;
  return {
    ...rest,
    tool_keys: (tools ?? []).map((tool) => `${tool.type}:${tool.id}`),
    knowledge: { ...k, mode: k.mode ?? "", rerank: k.rerank === null || k.rerank === undefined ? "default" : k.rerank ? "on" : "off" },
  };
}

function fromForm(values: FormValues): AppConfig {
  const { tool_keys, knowledge, ...rest } = values;
  return {
    ...rest,
    variables: (rest.variables ?? []).map((v) => ({ ...v, default: v.default || null, description: v.description ?? "", required: Boolean(v.required) })),
    tools: tool_keys.map((key) => {
      const [type, ...id] = key.split(":");
      return { type: type as ToolType, id: id.join(":") };
    }),
    knowledge: { ...knowledge, mode: knowledge.mode || null, rerank: knowledge.rerank === "default" ? null : knowledge.rerank === "on" },
  };
}

export function ConfigureTab({ app, onDirtyChange }: { app: App; onDirtyChange: (dirty: boolean) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<FormValues>();
  const { can } = useWorkspace();
  const editable = can("editApps");
  const models = useModels();
  const kbs = useKnowledgeBases();
  const tools = useTools();
  const httpTools = useHttpTools();
  const mcpServers = useMcpServers();
  const client = useQueryClient();
  const wsKey = useWsKey();
  const initial = useMemo(() => toForm(normalizeConfig(app.draft)), [app.draft]);
  useEffect(() => {
    form.setFieldsValue(initial);
    onDirtyChange(false);
  }, [form, initial, onDirtyChange]);

  const save = useMutation({
    mutationFn: (config: AppConfig) => call(api.PUT("/console/api/apps/{app_id}/draft", { params: { path: { app_id: app.id } }, body: config })),
    meta: { silent: true },
    onSuccess: (saved) => {
      client.setQueryData(wsKey("apps", app.id), saved);
      void client.invalidateQueries({ queryKey: wsKey("apps") });
      notifySuccess(t("apps.configure.saved"));
      onDirtyChange(false);
    },
  });

  const prompt = Form.useWatch("system_prompt", form) ?? "";
  const variables = (Form.useWatch("variables", form) ?? []) as Variable[];
  const kbIds = (Form.useWatch(["knowledge", "knowledge_base_ids"], form) ?? []) as string[];
  const used = promptVariables(prompt);
  const declared = new Set(variables.map((v) => v?.name).filter(Boolean));
  const undeclared = used.filter((name) => !declared.has(name));
  const chatModels = (models.data ?? []).filter((m) => m.capabilities.includes("chat"));
  const toolOptions = [
    {
      label: t("apps.configure.pluginTools"),
      options: (tools.data ?? []).map((tool) => ({ value: `plugin:${tool.id}`, label: `${tool.display_name || tool.id} (${tool.id})` })),
    },
    {
      label: t("apps.configure.httpTools"),
      options: (httpTools.data ?? []).map((tool) => ({ value: `http:${tool.id}`, label: `${tool.name} · ${tool.method} ${tool.url}` })),
    },
    ...mcpToolGroups(mcpServers.data),
  ];

  return (
    <Form<FormValues>
      form={form}
      layout="vertical"
      initialValues={initial}
      disabled={!editable}
      onValuesChange={() => onDirtyChange(true)}
      onFinish={(values) => save.mutate(fromForm({ ...form.getFieldsValue(true), ...values }))}
    >
      <Space direction="vertical" size={16} style={{ width: "100%" }}>
        {!editable && <Alert type="info" showIcon message={t("apps.configure.readOnly")} />}
        {save.error ? <ErrorAlert error={save.error} /> : null}
        <Card size="small" title={t("apps.configure.modelAndPrompt")}>
          <Form.Item name="model" label={t("apps.configure.model")} extra={!chatModels.length && !models.isPending ? t("apps.configure.noChatModel") : undefined}>
            <Select
              showSearch
              placeholder={t("apps.configure.modelPlaceholder")}
              options={chatModels.map((m) => ({
                value: m.name,
                label: `${m.display_name || m.name}${m.capabilities.includes("tool_calls") ? ` · ${t("models.capability.tool_calls")}` : ""}${m.is_default ? ` (${t("models.default")})` : ""}`,
              }))}
              data-testid="app-model"
            />
          </Form.Item>
          <Form.Item name="system_prompt" label={t("apps.configure.systemPrompt")} extra={t("apps.configure.systemPromptHint", { example: "{{name}}" })}>
            <Input.TextArea autoSize={{ minRows: 4, maxRows: 16 }} data-testid="app-prompt" />
          </Form.Item>
          {undeclared.length > 0 && (
            <Alert
              type="warning"
              showIcon
              style={{ marginBottom: 12 }}
              message={t("apps.configure.undeclared", { names: undeclared.map((n) => `{{${n}}}`).join(", ") })}
              action={
                editable ? (
                  <Button
                    size="small"
                    onClick={() => {
                      form.setFieldValue("variables", [...variables, ...undeclared.map((name) => ({ name, default: null, required: false, description: "" }))]);
                      onDirtyChange(true);
                    }}
                  >
                    {t("apps.configure.declare")}
                  </Button>
                ) : undefined
              }
            />
          )}
          <Typography.Text strong>{t("apps.configure.variables")}</Typography.Text>
          <Form.List name="variables">
            {(fields, { add, remove }) => (
              <div style={{ marginTop: 8 }}>
                {fields.length === 0 && <Typography.Paragraph type="secondary">{t("apps.configure.noVariables", { example: "{{name}}" })}</Typography.Paragraph>}
                {fields.map((field) => (
                  <Row gutter={8} key={field.key} align="middle">
                    <Col span={6}>
                      <Form.Item name={[field.name, "name"]} rules={[{ required: true, pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, message: t("apps.configure.variableName") }]}>
                        <Input placeholder={t("apps.configure.varName")} />
                      </Form.Item>
                    </Col>
                    <Col span={6}>
                      <Form.Item name={[field.name, "default"]}>
                        <Input placeholder={t("apps.configure.varDefault")} />
                      </Form.Item>
                    </Col>
                    <Col span={3}>
                      <Form.Item name={[field.name, "required"]} valuePropName="checked">
                        <Switch checkedChildren={t("apps.configure.varRequired")} unCheckedChildren={t("apps.configure.varOptional")} />
                      </Form.Item>
                    </Col>
                    <Col span={8}>
                      <Form.Item name={[field.name, "description"]}>
                        <Input placeholder={t("apps.configure.varDescription")} />
                      </Form.Item>
                    </Col>
                    <Col span={1}>
                      {editable && (
                        <Form.Item>
                          <Button type="text" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} onClick={() => remove(field.name)} />
                        </Form.Item>
                      )}
                    </Col>
                  </Row>
                ))}
                {editable && (
                  <Button size="small" icon={<PlusOutlined />} onClick={() => add({ name: "", default: null, required: false, description: "" })}>
                    {t("apps.configure.addVariable")}
                  </Button>
                )}
              </div>
            )}
          </Form.List>
        </Card>

        <Card size="small" title={t("apps.configure.knowledge")}>
          <Form.Item
            name={["knowledge", "knowledge_base_ids"]}
            label={t("apps.configure.knowledgeBases")}
            extra={!kbs.isPending && !(kbs.data ?? []).length ? <Link to="/knowledge-bases">{t("apps.configure.noKnowledgeBases")}</Link> : undefined}
          >
            <Select mode="multiple" allowClear placeholder={t("apps.configure.knowledgePlaceholder")} options={(kbs.data ?? []).map((kb) => ({ value: kb.id, label: kb.name }))} data-testid="app-kbs" />
          </Form.Item>
          <Row gutter={12}>
            <Col xs={12} md={6}>
              <Form.Item name={["knowledge", "show_sources"]} label={t("apps.configure.showSources")} valuePropName="checked" tooltip={t("apps.configure.showSourcesHint")}>
                <Switch disabled={!kbIds.length || !editable} />
              </Form.Item>
            </Col>
            <Col xs={12} md={6}>
              <Form.Item name={["knowledge", "auto_retrieve"]} label={t("apps.configure.autoRetrieve")} valuePropName="checked" tooltip={t("apps.configure.autoRetrieveHint")}>
                <Switch disabled={!kbIds.length || !editable} />
              </Form.Item>
            </Col>
            <Col xs={12} md={6}>
              <Form.Item name={["knowledge", "as_tool"]} label={t("apps.configure.asTool")} valuePropName="checked" tooltip={t("apps.configure.asToolHint")}>
                <Switch disabled={!kbIds.length || !editable} />
              </Form.Item>
            </Col>
            <Col xs={12} md={6}>
              <Form.Item name={["knowledge", "top_k"]} label={t("kb.retrieval.topK")}>
                <InputNumber min={1} max={50} style={{ width: "100%" }} disabled={!kbIds.length || !editable} />
              </Form.Item>
            </Col>
            <Col xs={12} md={8}>
              <Form.Item name={["knowledge", "mode"]} label={t("kb.retrieval.mode")}>
                <Select
                  disabled={!kbIds.length || !editable}
                  options={[
                    { value: "", label: t("apps.configure.kbDefault") },
                    ...(["hybrid", "vector", "fulltext"] as const).map((m) => ({ value: m, label: t(`kb.retrieval.modes.${m}`) })),
                  ]}
                />
              </Form.Item>
            </Col>
            <Col xs={12} md={8}>
              <Form.Item name={["knowledge", "score_threshold"]} label={t("kb.retrieval.threshold")}>
                <InputNumber min={0} max={1} step={0.05} style={{ width: "100%" }} placeholder={t("apps.configure.kbDefault")} disabled={!kbIds.length || !editable} />
              </Form.Item>
            </Col>
            <Col xs={12} md={8}>
              <Form.Item name={["knowledge", "rerank"]} label={t("kb.retrieval.rerank")}>
                <Select
                  disabled={!kbIds.length || !editable}
                  options={(["default", "on", "off"] as const).map((v) => ({ value: v, label: t(`apps.configure.rerank.${v}`) }))}
                />
              </Form.Item>
            </Col>
          </Row>
        </Card>

        <Card size="small" title={t("apps.configure.tools")}>
          <Form.Item name="tool_keys" extra={t("apps.configure.toolsHint")}>
            <Select mode="multiple" allowClear placeholder={t("apps.configure.toolsPlaceholder")} options={toolOptions} loading={tools.isPending || httpTools.isPending || mcpServers.isPending} data-testid="app-tools" />
          </Form.Item>
        </Card>

        <Card size="small" title={t("apps.configure.parameters")}>
          <Row gutter={12}>
            <Col xs={12} md={4}>
              <Form.Item name={["parameters", "temperature"]} label={t("models.playground.temperature")}>
                <InputNumber min={0} max={2} step={0.1} style={{ width: "100%" }} placeholder={t("models.playground.default")} />
              </Form.Item>
            </Col>
            <Col xs={12} md={4}>
              <Form.Item name={["parameters", "top_p"]} label="top_p">
                <InputNumber min={0} max={1} step={0.05} style={{ width: "100%" }} placeholder={t("models.playground.default")} />
              </Form.Item>
            </Col>
            <Col xs={12} md={4}>
              <Form.Item name={["parameters", "max_tokens"]} label={t("models.playground.maxTokens")}>
                <InputNumber min={1} max={131072} style={{ width: "100%" }} placeholder={t("models.playground.default")} />
              </Form.Item>
            </Col>
            <Col xs={12} md={4}>
              <Form.Item name="memory_rounds" label={t("apps.configure.memoryRounds")} tooltip={t("apps.configure.memoryRoundsHint")}>
                <InputNumber min={0} max={100} style={{ width: "100%" }} />
              </Form.Item>
            </Col>
            <Col xs={12} md={4}>
              <Form.Item name="max_iterations" label={t("apps.configure.maxIterations")} tooltip={t("apps.configure.maxIterationsHint")}>
                <InputNumber min={1} max={20} style={{ width: "100%" }} />
              </Form.Item>
            </Col>
            <Col xs={12} md={4}>
              <Form.Item name="tool_calling" label={t("apps.configure.toolCalling")}>
                <Select options={(["auto", "native", "react"] as const).map((v) => ({ value: v, label: t(`apps.configure.toolCallingModes.${v}`) }))} />
              </Form.Item>
            </Col>
          </Row>
        </Card>
        {editable && (
          <div className="sticky-actions">
            <Button type="primary" htmlType="submit" icon={<SaveOutlined />} loading={save.isPending} data-testid="save-draft">
              {t("apps.configure.save")}
            </Button>
          </div>
        )}
      </Space>
    </Form>
  );
}
