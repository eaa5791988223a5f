// The check's problems as a list; clicking one of a node selects that node.
import { CheckCircleOutlined, WarningOutlined } from "@ant-design/icons";
import { Card, List, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { problemText, type Problem } from "./problems";

export function ProblemsList({ problems, checking, onSelect }: { problems: Problem[] | null; checking: boolean; onSelect: (nodeId: string) => void }) {
  const { t } = useTranslation();
  const title = problems === null ? t("workflow.check.notYet") : problems.length ? t("workflow.check.problems", { count: problems.length }) : t("workflow.check.ok");
  return (
    <Card
      size="small"
      data-testid="problems"
      title={
        <span>
          {problems?.length ? <WarningOutlined style={{ color: "#cf1322" }} /> : <CheckCircleOutlined style={{ color: "#389e0d" }} />} {title}
          {checking && <Typography.Text type="secondary"> · {t("workflow.check.checking")}</Typography.Text>}
        </span>
      }
    >
      {problems && problems.length > 0 && (
        <List
          size="small"
          dataSource={problems}
          renderItem={(problem) => (
            <List.Item
              data-testid="problem"
              style={problem.node_id ? { cursor: "pointer" } : undefined}
              onClick={() => problem.node_id && onSelect(problem.node_id)}
            >
              {problem.node_id ? <Typography.Text code>{problem.node_id}</Typography.Text> : <Typography.Text type="secondary">{t("workflow.check.workflow")}</Typography.Text>} {problemText(problem)}
            </List.Item>
          )}
        />
      )}
    </Card>
  );
}
