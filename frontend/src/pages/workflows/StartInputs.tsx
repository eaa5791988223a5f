// The start node's input variables as inputs (string, number, boolean, object/array as
// JSON), and the values to send (`variables` of the playground call): filled ones only.
import { Form, Input, InputNumber, Switch } from "antd";
import { useTranslation } from "react-i18next";

export interface StartVariable {
  name: string;
  type?: string;
  required?: boolean;
  default?: unknown;
  description?: string;
}

export function startVariables(settings: Record<string, unknown> | undefined): StartVariable[] {
  const list = settings?.variables;
  return Array.isArray(list) ? (list as StartVariable[]).filter((v) => v && typeof v.name === "string" && v.name) : [];
}

/** The values to send: numbers and booleans as such, objects and arrays parsed (left out
 *  when they are not JSON), empty ones left out (the server takes the defaults). */
export function inputValues(variables: StartVariable[], raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const v of variables) {
    const value = raw[v.name];
    if (value === undefined || value === null || value === "") continue;
    if (v.type === "object" || v.type === "array") {
      try {
        out[v.name] = JSON.parse(String(value));
      } catch {
        // not JSON yet: left out, the server says what it needs
      }
    } else out[v.name] = value;
  }
  return out;
}

export function StartInputs({ variables, values, onChange }: { variables: StartVariable[]; values: Record<string, unknown>; onChange: (values: Record<string, unknown>) => void }) {
  const { t } = useTranslation();
  if (!variables.length) return null;
  const set = (name: string, value: unknown) => onChange({ ...values, [name]: value });
  return (
    <Form layout="vertical" size="small" component={false}>
      {variables.map((v) => {
        const placeholder = v.default === undefined || v.default === null ? undefined : typeof v.default === "string" ? v.default : JSON.stringify(v.default);
        let control;
        if (v.type === "number") control = <InputNumber style={{ width: "100%" }} value={(values[v.name] as number | undefined) ?? null} placeholder={placeholder} onChange={(x) => set(v.name, x)} data-testid={`var-${v.name}`} />;
        else if (v.type === "boolean") control = <Switch checked={Boolean(values[v.name])} onChange={(x) => set(v.name, x)} data-testid={`var-${v.name}`} />;
        else if (v.type === "object" || v.type === "array")
          control = <Input.TextArea rows={2} style={{ fontFamily: "monospace" }} value={String(values[v.name] ?? "")} placeholder={placeholder ?? (v.type === "array" ? "[]" : "{}")} onChange={(e) => set(v.name, e.target.value)} data-testid={`var-${v.name}`} />;
        else control = <Input value={String(values[v.name] ?? "")} placeholder={placeholder} onChange={(e) => set(v.name, e.target.value)} data-testid={`var-${v.name}`} />;
        return (
          <Form.Item key={v.name} label={`${v.name}${v.type ? ` (${t(`workflow.varTypes.${v.type}`, { defaultValue: v.type })})` : ""}`} required={v.required} extra={v.description || undefined} style={{ marginBottom: 8 }}>
            {control}
          </Form.Item>
        );
      })}
    </Form>
  );
}
