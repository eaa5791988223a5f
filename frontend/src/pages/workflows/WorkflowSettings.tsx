// The side panel when no node is selected: the hint, and the workflow's own settings.
import { Card, Form, InputNumber, Typography } from "antd";
import { useTranslation } from "react-i18next";

export function WorkflowSettings({ maxSteps, disabled, onChange }: { maxSteps: number; disabled: boolean; onChange: (maxSteps: number) => void }) {
  const { t } = useTranslation();
  return (
    <Card size="small" title={t("workflow.settings")}>
      <Typography.Paragraph type="secondary">{t("workflow.selectHint")}</Typography.Paragraph>
      <Form layout="vertical" size="small" component={false}>
        <Form.Item label={t("workflow.maxSteps")} tooltip={t("workflow.maxStepsHint")}>
          <InputNumber min={1} max={2000} value={maxSteps} disabled={disabled} onChange={(v) => typeof v === "number" && onChange(v)} style={{ width: "100%" }} />
        </Form.Item>
      </Form>
    </Card>
  );
}
