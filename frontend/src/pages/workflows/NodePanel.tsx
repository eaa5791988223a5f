// The side panel of the selected node: its title, id, timeout and settings (SettingsForm),
// the problems the check found on it, and a delete button.
import { DeleteOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Form, Input, InputNumber, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldSpec } from "../../components/schemaFields";
import type { FlowNodeData } from "./definition";
import { nodeLook } from "./nodeLook";
import { SettingsFields, type SettingsContext } from "./SettingsForm";

export function NodePanel({
  id,
  data,
  fields,
  problems,
  context,
  onChange,
  onDelete,
}: {
  id: string;
  data: FlowNodeData;
  fields: FieldSpec[];
  problems: string[];
  context: SettingsContext;
  onChange: (data: FlowNodeData, field: string) => void;
  onDelete: () => void;
}) {
  const { t } = useTranslation();
  const look = nodeLook(data.kind);
  return (
    <Card
      size="small"
      className="wf-panel"
      data-testid="node-panel"
      title={
        <Space>
          <span className="wf-node-icon" style={{ background: look.color }}>{look.icon}</span>
          {t(`workflow.types.${data.kind}`, { defaultValue: data.kind })}
          <Typography.Text code>{id}</Typography.Text>
        </Space>
      }
      extra={!context.disabled && <Button size="small" danger type="text" icon={<DeleteOutlined />} onClick={onDelete} aria-label={t("workflow.delete")} data-testid="panel-delete" />}
    >
      {problems.length > 0 && (
        <Alert type="error" showIcon style={{ marginBottom: 8 }} message={<ul className="wf-problem-tooltip">{problems.map((p, i) => <li key={i}>{p}</li>)}</ul>} />
      )}
      <Form layout="vertical" size="small" component={false}>
        <Form.Item label={t("workflow.panel.title")} style={{ marginBottom: 10 }}>
          <Input value={data.title} disabled={context.disabled} maxLength={100} onChange={(e) => onChange({ ...data, title: e.target.value }, "title")} data-testid="node-title" />
        </Form.Item>
        <Form.Item label={t("workflow.panel.timeout")} tooltip={t("workflow.panel.timeoutHint")} style={{ marginBottom: 10 }}>
          <InputNumber
            value={data.timeout_seconds}
            min={1}
            max={3600}
            disabled={context.disabled}
            style={{ width: "100%" }}
            placeholder={t("workflow.panel.noTimeout")}
            onChange={(v) => onChange({ ...data, timeout_seconds: typeof v === "number" ? v : null }, "timeout_seconds")}
          />
        </Form.Item>
      </Form>
      <SettingsFields fields={fields} value={data.settings} context={context} onChange={(settings) => onChange({ ...data, settings }, "settings")} />
    </Card>
  );
}
