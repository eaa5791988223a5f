// How each node type looks: its icon and colour (labels are i18n: workflow.types.<type>).
import {
  ApiOutlined,
  BranchesOutlined,
  CodeOutlined,
  DatabaseOutlined,
  FilterOutlined,
  FlagOutlined,
  FormOutlined,
  MergeOutlined,
  MessageOutlined,
  PlayCircleOutlined,
  QuestionCircleOutlined,
  RetweetOutlined,
  RobotOutlined,
  ToolOutlined,
  UserOutlined,
  BulbOutlined,
} from "@ant-design/icons";
import type { ReactNode } from "react";

export const NODE_LOOK: Record<string, { icon: ReactNode; color: string }> = {
  start: { icon: <PlayCircleOutlined />, color: "#52c41a" },
  end: { icon: <FlagOutlined />, color: "#595959" },
  answer: { icon: <MessageOutlined />, color: "#13c2c2" },
  llm: { icon: <BulbOutlined />, color: "#1677ff" },
  knowledge_retrieval: { icon: <DatabaseOutlined />, color: "#389e0d" },
  question_classifier: { icon: <QuestionCircleOutlined />, color: "#fa8c16" },
  condition: { icon: <BranchesOutlined />, color: "#d48806" },
  agent: { icon: <RobotOutlined />, color: "#722ed1" },
  tool: { icon: <ToolOutlined />, color: "#9254de" },
  http_request: { icon: <ApiOutlined />, color: "#08979c" },
  template_transform: { icon: <CodeOutlined />, color: "#1d39c4" },
  variable_aggregator: { icon: <MergeOutlined />, color: "#7cb305" },
  parameter_extractor: { icon: <FilterOutlined />, color: "#c41d7f" },
  human_input: { icon: <UserOutlined />, color: "#fa541c" },
  iteration: { icon: <RetweetOutlined />, color: "#2f54eb" },
};

export function nodeLook(type: string): { icon: ReactNode; color: string } {
  return NODE_LOOK[type] ?? { icon: <FormOutlined />, color: "#8c8c8c" };
}
