// A tool's test-run: an arguments form from its parameters schema, and what it returned.
// With `rawFallback`, a schema the form cannot render (no `properties` to make fields of,
// but something else: `additionalProperties`, `anyOf`, ...) is one JSON text area for the
// whole arguments object.
import { PlayCircleOutlined } from "@ant-design/icons";
import { useMutation } from "@tanstack/react-query";
import { Alert, Button, Form, Input, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { Schemas } from "../api/client";
import { ErrorAlert } from "./feedback";
import { SchemaFields } from "./SchemaForm";
import { fromFormValues, isJson, schemaFields, toFormValues } from "./schemaFields";

export type InvokeResult = Pick<Schemas["InvokeOut"], "content" | "is_error" | "duration_ms">;

const DESCRIPTIVE_KEYS = new Set(["type", "title", "description", "$schema", "$defs", "definitions", "properties", "required", "additionalProperties"]);

/** Whether the form cannot make fields of `schema` though it takes arguments: no
 * `properties` (or none), and something else that says what the arguments are. */
export function needsRawArguments(schema: unknown): boolean {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return false;
  const node = schema as Record<string, unknown>;
  if (node.type !== undefined && node.type !== "object") return true;
  const properties = node.properties;
  if (typeof properties === "object" && properties !== null && Object.keys(properties).length > 0) return false;
  if (node.additionalProperties !== undefined && node.additionalProperties !== false) return true;
  return Object.keys(node).some((key) => !DESCRIPTIVE_KEYS.has(key));
}

const RAW = "__arguments";

/** Arguments form for a tool's parameters schema, and the result of running it. */
export function ToolRunner({ parameters, run, rawFallback = false }: { parameters: unknown; run: (args: Record<string, unknown>) => Promise<InvokeResult>; rawFallback?: boolean }) {
  const { t } = useTranslation();
  const raw = rawFallback && needsRawArguments(parameters);
  const fields = raw ? [] : schemaFields(parameters);
  const [form] = Form.useForm();
  const invoke = useMutation({ mutationFn: run, meta: { silent: true } });
  const result = invoke.data;
  const submit = (values: Record<string, unknown>) => {
    if (!raw) return invoke.mutate(fromFormValues(fields, values));
    const text = typeof values[RAW] === "string" ? values[RAW].trim() : "";
    invoke.mutate(text ? (JSON.parse(text) as Record<string, unknown>) : {});
  };
  const rawRule = {
    validator: (_: unknown, value: unknown) => {
      if (!isJson(value)) return Promise.reject(new Error(t("schemaForm.invalidJson")));
      const parsed: unknown = typeof value === "string" && value.trim() ? JSON.parse(value) : {};
      return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? Promise.resolve() : Promise.reject(new Error(t("tools.argumentsObject")));
    },
  };
  return (
    <Form form={form} layout="vertical" initialValues={raw ? { [RAW]: "{}" } : toFormValues(fields, undefined)} onFinish={submit}>
      {raw ? (
        <Form.Item name={RAW} label={t("tools.argumentsJson")} extra={t("tools.argumentsJsonHint")} rules={[rawRule]}>
          <Input.TextArea rows={8} spellCheck={false} style={{ fontFamily: "monospace" }} data-testid="raw-arguments" />
        </Form.Item>
      ) : fields.length ? (
        <SchemaFields fields={fields} />
      ) : (
        <Typography.Paragraph type="secondary">{t("tools.noArguments")}</Typography.Paragraph>
      )}
      <Button type="primary" htmlType="submit" icon={<PlayCircleOutlined />} loading={invoke.isPending} data-testid="run-tool">
        {t("tools.run")}
      </Button>
      {invoke.error ? <div style={{ marginTop: 12 }}><ErrorAlert error={invoke.error} /></div> : null}
      {result && (
        <Alert
          style={{ marginTop: 12 }}
          type={result.is_error ? "error" : "success"}
          message={result.is_error ? t("tools.failed", { ms: result.duration_ms }) : t("tools.succeeded", { ms: result.duration_ms })}
          description={<pre className="json-block" data-testid="tool-result">{result.content}</pre>}
        />
      )}
    </Form>
  );
}

