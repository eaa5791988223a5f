// Form fields generated from a JSON Schema (plugin settings, provider settings, tool
// arguments): put <SchemaFields> inside an antd <Form>; read the values back with
// fromFormValues(). Secrets are password inputs, write-only: a stored one shows "***" as
// placeholder and is kept unless a new value is typed.
import { Form, Input, InputNumber, Select, Switch } from "antd";
import type { NamePath } from "antd/es/form/interface";
import { useTranslation } from "react-i18next";
import { isJson, SECRET_MASK, type FieldSpec } from "./schemaFields";

export function SchemaFields({
  fields,
  stored = [],
  prefix = [],
  disabled,
}: {
  fields: FieldSpec[];
  /** Secrets with a stored value. */
  stored?: string[];
  /** Where the values live in the surrounding form (["settings"]). */
  prefix?: (string | number)[];
  disabled?: boolean;
}) {
  const { t } = useTranslation();
  return (
    <>
      {fields.map((field) => {
        const name: NamePath = [...prefix, field.name];
        const keep = field.secret && stored.includes(field.name);
        const rules = [
          ...(field.required && !keep && field.kind !== "boolean" ? [{ required: true, message: t("schemaForm.required", { name: field.title }) }] : []),
          ...(field.kind === "json"
            ? [{ validator: (_: unknown, value: unknown) => (isJson(value) ? Promise.resolve() : Promise.reject(new Error(t("schemaForm.invalidJson")))) }]
            : []),
        ];
        const extra = [field.description, keep ? t("schemaForm.secretKept") : undefined].filter(Boolean).join(" ");
        let control: React.ReactNode;
        if (field.kind === "boolean") control = <Switch disabled={disabled} />;
        else if (field.kind === "enum")
          control = <Select allowClear={!field.required} disabled={disabled} options={(field.options ?? []).map((o) => ({ value: o, label: String(o) }))} />;
        else if (field.kind === "integer" || field.kind === "number")
          control = (
            <InputNumber
              disabled={disabled}
              min={field.minimum}
              max={field.maximum}
              precision={field.kind === "integer" ? 0 : undefined}
              style={{ width: "100%" }}
              placeholder={field.default !== undefined && field.default !== null ? String(field.default) : undefined}
            />
          );
        else if (field.kind === "stringArray")
          control = <Select mode="tags" disabled={disabled} open={false} tokenSeparators={[","]} placeholder={t("schemaForm.tagsPlaceholder")} />;
        else if (field.kind === "json")
          control = <Input.TextArea disabled={disabled} rows={3} spellCheck={false} style={{ fontFamily: "monospace" }} placeholder="JSON" />;
        else if (field.secret)
          control = <Input.Password disabled={disabled} autoComplete="new-password" placeholder={keep ? SECRET_MASK : undefined} data-testid={`secret-${field.name}`} />;
        else if (field.multiline) control = <Input.TextArea disabled={disabled} rows={3} />;
        else control = <Input disabled={disabled} placeholder={typeof field.default === "string" ? field.default : undefined} />;
        return (
          <Form.Item
            key={field.name}
            name={name}
            label={field.title}
            extra={extra || undefined}
            rules={rules}
            valuePropName={field.kind === "boolean" ? "checked" : "value"}
          >
            {control}
          </Form.Item>
        );
      })}
    </>
  );
}
