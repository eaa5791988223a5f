// A tool's test-run: an arguments form from its parameters schema, and what it returned.
import { PlayCircleOutlined } from "@ant-design/icons";
import { useMutation } from "@tanstack/react-query";
import { Alert, Button, Form, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { Schemas } from "../api/client";
import { ErrorAlert } from "./feedback";
import { SchemaFields } from "./SchemaForm";
import { fromFormValues, schemaFields, toFormValues } from "./schemaFields";

export type InvokeResult = Schemas["InvokeOut"];

/** Arguments form for a tool's parameters schema, and the result of running it. */
export function ToolRunner({ parameters, run }: { parameters: unknown; run: (args: Record<string, unknown>) => Promise<InvokeResult> }) {
  const { t } = useTranslation();
  const fields = schemaFields(parameters);
  const [form] = Form.useForm();
  const invoke = useMutation({ mutationFn: run, meta: { silent: true } });
  const result = invoke.data;
  return (
    <Form form={form} layout="vertical" initialValues={toFormValues(fields, undefined)} onFinish={(values) => invoke.mutate(fromFormValues(fields, values))}>
      {fields.length ? <SchemaFields fields={fields} /> : <Typography.Paragraph type="secondary">{t("tools.noArguments")}</Typography.Paragraph>}
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

