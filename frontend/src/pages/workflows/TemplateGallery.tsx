// The workflow templates (GET /workflow/templates) as cards to pick one from, after "blank".
import { Card, Col, Row, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { QueryState } from "../../components/feedback";
import { useTemplates } from "./api";

function Choice({ id, title, description, chosen, onPick, extra }: { id: string; title: string; description: string; chosen: boolean; onPick: () => void; extra?: string }) {
  return (
    <Card
      size="small"
      hoverable
      onClick={onPick}
      data-testid={`template-${id}`}
      style={{ height: "100%", borderColor: chosen ? "#615ced" : undefined, boxShadow: chosen ? "0 0 0 2px rgba(97,92,237,0.25)" : undefined }}
    >
      <Typography.Text strong>{title}</Typography.Text>
      <Typography.Paragraph type="secondary" style={{ fontSize: 12, margin: "4px 0 0" }} ellipsis={{ rows: 3 }}>
        {description}
      </Typography.Paragraph>
      {extra && <Typography.Text type="secondary" style={{ fontSize: 11 }}>{extra}</Typography.Text>}
    </Card>
  );
}

export function TemplateGallery({ value, onChange }: { value: string | null; onChange: (id: string | null) => void }) {
  const { t } = useTranslation();
  const templates = useTemplates();
  return (
    <QueryState query={templates} rows={2}>
      <Row gutter={[8, 8]}>
        <Col xs={24} sm={12} md={8}>
          <Choice id="blank" title={t("apps.create.blank")} description={t("apps.create.blankHint")} chosen={value === null} onPick={() => onChange(null)} />
        </Col>
        {(templates.data ?? []).map((template) => (
          <Col key={template.id} xs={24} sm={12} md={8}>
            <Choice
              id={template.id}
              title={template.name}
              description={template.description}
              chosen={value === template.id}
              onPick={() => onChange(template.id)}
              extra={t("apps.create.nodes", { count: Array.isArray(template.definition.nodes) ? template.definition.nodes.length : 0 })}
            />
          </Col>
        ))}
      </Row>
    </QueryState>
  );
}
