// A node's settings, edited in place (controlled): fields from its type's JSON schema
// (settings.ts), with a model picker, variable pickers (`node_id.output` choices from the
// check), text areas for templates, and list editors for object lists (a condition's cases
// with their comparisons, a classifier's classes, start's input variables).
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { AutoComplete, Button, Card, Form, Input, InputNumber, Select, Space, Switch, Typography } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldSpec } from "../../components/schemaFields";
import { isAppField, isKnowledgeBasesField, isModelField, isTemplateField, isToolField, isVariableField, newItem, toolFromKey, toolKey } from "./settings";

export interface SettingsContext {
  variables: { value: string; type: string }[];
  models: { value: string; label: string }[];
  knowledgeBases: { value: string; label: string }[];
  /** Tools a tool node may call (`plugin:id`, `http:id`, `mcp:id`, `app:id`), grouped. */
  tools: { label: string; options: { value: string; label: string; title?: string }[] }[];
  /** Agent apps an agent node may run. */
  apps: { value: string; label: string }[];
  disabled?: boolean;
}

type Values = Record<string, unknown>;

function JsonInput({ value, onChange, disabled }: { value: unknown; onChange: (value: unknown) => void; disabled?: boolean }) {
  const { t } = useTranslation();
  const shown = value === undefined || value === null ? "" : JSON.stringify(value, null, 2);
  const [text, setText] = useState(shown);
  const [invalid, setInvalid] = useState(false);
  useEffect(() => {
    setText((current) => {
      try {
        if (current.trim() && JSON.stringify(JSON.parse(current)) === JSON.stringify(value)) return current;
      } catch {
        return current;
      }
      return shown;
    });
  }, [value, shown]);
  return (
    <>
      <Input.TextArea
        rows={3}
        value={text}
        disabled={disabled}
        spellCheck={false}
        style={{ fontFamily: "monospace" }}
        placeholder="JSON"
        status={invalid ? "error" : undefined}
        onChange={(e) => {
          setText(e.target.value);
          if (!e.target.value.trim()) {
            setInvalid(false);
            onChange(null);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setInvalid(false);
          } catch {
            setInvalid(true);
          }
        }}
      />
      {invalid && <Typography.Text type="danger">{t("schemaForm.invalidJson")}</Typography.Text>}
    </>
  );
}

function ObjectList({ field, value, onChange, context }: { field: FieldSpec; value: unknown; onChange: (value: unknown) => void; context: SettingsContext }) {
  const { t } = useTranslation();
  const items = Array.isArray(value) ? (value as Values[]) : [];
  const set = (index: number, item: Values) => onChange(items.map((old, i) => (i === index ? item : old)));
  return (
    <Space direction="vertical" style={{ width: "100%" }} size={6} data-testid={`list-${field.name}`}>
      {items.map((item, index) => (
        <Card
          key={index}
          size="small"
          className="wf-list-item"
          title={typeof item.id === "string" ? <Typography.Text code>{item.id}</Typography.Text> : `#${index + 1}`}
          extra={
            !context.disabled && (
              <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} onClick={() => onChange(items.filter((_, i) => i !== index))} />
            )
          }
        >
          <SettingsFields fields={field.itemFields ?? []} value={item} onChange={(next) => set(index, next)} context={context} compact />
        </Card>
      ))}
      {!context.disabled && (
        <Button size="small" icon={<PlusOutlined />} onClick={() => onChange([...items, newItem(field, items)])} data-testid={`add-${field.name}`}>
          {t("workflow.panel.addItem", { name: t(`workflow.fields.${field.name}`, { defaultValue: field.title }) })}
        </Button>
      )}
    </Space>
  );
}

function FieldControl({ field, value, onChange, context }: { field: FieldSpec; value: unknown; onChange: (value: unknown) => void; context: SettingsContext }) {
  const { t } = useTranslation();
  const disabled = context.disabled;
  const empty = field.nullable ? null : undefined;
  if (field.kind === "objectArray") return <ObjectList field={field} value={value} onChange={onChange} context={context} />;
  if (field.kind === "boolean") return <Switch checked={Boolean(value)} onChange={onChange} disabled={disabled} />;
  if (field.kind === "enum")
    return <Select value={value ?? undefined} allowClear={!field.required} disabled={disabled} onChange={(v) => onChange(v ?? empty)} options={(field.options ?? []).map((o) => ({ value: o, label: t(`workflow.options.${o}`, { defaultValue: String(o) }) }))} style={{ width: "100%" }} />;
  if (field.kind === "integer" || field.kind === "number")
    return (
      <InputNumber
        value={typeof value === "number" ? value : null}
        min={field.minimum}
        max={field.maximum}
        precision={field.kind === "integer" ? 0 : undefined}
        disabled={disabled}
        style={{ width: "100%" }}
        onChange={(v) => onChange(v ?? empty)}
      />
    );
  if (isKnowledgeBasesField(field))
    return <Select mode="multiple" allowClear value={Array.isArray(value) ? value : []} disabled={disabled} options={context.knowledgeBases} onChange={onChange} style={{ width: "100%" }} />;
  if (field.kind === "stringArray" && isVariableField(field))
    return (
      <Select
        mode="tags"
        value={Array.isArray(value) ? value : []}
        disabled={disabled}
        options={context.variables.map((v) => ({ value: v.value, label: `${v.value} · ${v.type}` }))}
        placeholder="node_id.output"
        onChange={onChange}
        style={{ width: "100%" }}
      />
    );
  if (field.kind === "stringArray")
    return <Select mode="tags" value={Array.isArray(value) ? value : []} disabled={disabled} open={false} tokenSeparators={[","]} placeholder={t("schemaForm.tagsPlaceholder")} onChange={onChange} />;
  if (isToolField(field))
    return <Select showSearch allowClear value={toolKey(value)} disabled={disabled} options={context.tools} onChange={(key?: string) => onChange(toolFromKey(key))} style={{ width: "100%" }} data-testid="tool-picker" />;
  if (field.kind === "json") return <JsonInput value={value} onChange={onChange} disabled={disabled} />;
  const text = value === undefined || value === null ? "" : String(value);
  if (isModelField(field))
    return <Select showSearch allowClear value={text || undefined} disabled={disabled} options={context.models} placeholder={t("workflow.panel.modelPlaceholder")} onChange={(v) => onChange(v ?? "")} style={{ width: "100%" }} />;
  if (isAppField(field))
    return <Select showSearch allowClear value={text || undefined} disabled={disabled} options={context.apps} onChange={(v?: string) => onChange(v ?? null)} style={{ width: "100%" }} />;
  if (isVariableField(field))
    return (
      <AutoComplete
        value={text}
        disabled={disabled}
        options={context.variables.map((v) => ({ value: v.value, label: `${v.value} · ${v.type}` }))}
        filterOption={(input, option) => String(option?.value ?? "").includes(input)}
        onChange={(v) => onChange(v)}
        placeholder="node_id.output"
        style={{ width: "100%" }}
      />
    );
  if (isTemplateField(field))
    return <Input.TextArea value={text} disabled={disabled} autoSize={{ minRows: 2, maxRows: 10 }} placeholder={/template/i.test(field.description ?? "") || !field.description ? "{{ sys.query }}" : undefined} onChange={(e) => onChange(e.target.value)} />;
  return <Input value={text} disabled={disabled} onChange={(e) => onChange(e.target.value === "" && field.nullable ? null : e.target.value)} />;
}

export function SettingsFields({ fields, value, onChange, context, compact }: { fields: FieldSpec[]; value: Values; onChange: (value: Values) => void; context: SettingsContext; compact?: boolean }) {
  const { t } = useTranslation();
  return (
    <Form layout="vertical" size="small" component={false}>
      {fields.map((field) => (
        <div key={field.name} data-testid={`setting-${field.name}`}>
          <Form.Item label={t(`workflow.fields.${field.name}`, { defaultValue: field.title })} required={field.required} tooltip={field.description || undefined} style={{ marginBottom: compact ? 6 : 10 }}>
            <FieldControl field={field} value={value[field.name]} onChange={(next) => onChange({ ...value, [field.name]: next })} context={context} />
          </Form.Item>
        </div>
      ))}
    </Form>
  );
}
