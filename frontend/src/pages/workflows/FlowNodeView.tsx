// One node on the canvas: its type's icon, title and id, an incoming handle on the left
// (not on start) and its outgoing handles on the right (named for a condition's cases and a
// classifier's classes). A node with problems has a red border and a badge whose tooltip
// lists them; in the playground its run state colours it (running pulses blue).
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { Badge, Tooltip } from "antd";
import { useTranslation } from "react-i18next";
import { useDecorations } from "./canvasContext";
import { handlesOf, hasIncoming, NEXT, type FlowNode } from "./definition";
import { nodeLook } from "./nodeLook";
import { nodeSummary } from "./summary";

function classifierLabel(settings: Record<string, unknown>, handle: string): string {
  const classes = Array.isArray(settings.classes) ? (settings.classes as { id?: string; name?: string }[]) : [];
  return classes.find((c) => c.id === handle)?.name || handle;
}

function NodeHandles({ node }: { node: NodeProps<FlowNode> }) {
  const { t } = useTranslation();
  const { kind, settings } = node.data;
  const handles = handlesOf(kind, settings);
  if (handles.length === 1 && handles[0] === NEXT) {
    return <Handle type="source" position={Position.Right} id={NEXT} data-testid={`handle-${node.id}-${NEXT}`} />;
  }
  return (
    <div className="wf-branches">
      {handles.map((handle) => (
        <div key={handle} className="wf-branch">
          <span>{handle === "else" ? t("workflow.else") : kind === "question_classifier" ? classifierLabel(settings, handle) : handle}</span>
          <Handle type="source" position={Position.Right} id={handle} data-testid={`handle-${node.id}-${handle}`} />
        </div>
      ))}
    </div>
  );
}

function useNodeClasses(id: string, selected: boolean): { className: string; problems: string[]; status?: string } {
  const { problems, states } = useDecorations();
  const mine = problems[id] ?? [];
  const status = states[id]?.status;
  const className = ["wf-node", selected ? "selected" : "", mine.length ? "has-problems" : "", status ? `status-${status}` : ""].filter(Boolean).join(" ");
  return { className, problems: mine, status };
}

function ProblemBadge({ problems }: { problems: string[] }) {
  if (!problems.length) return null;
  return (
    <Tooltip title={<ul className="wf-problem-tooltip">{problems.map((p, i) => <li key={i}>{p}</li>)}</ul>}>
      <Badge count={problems.length} className="wf-problem-badge" data-testid="node-problems" />
    </Tooltip>
  );
}

function Header({ node }: { node: NodeProps<FlowNode> }) {
  const { t } = useTranslation();
  const look = nodeLook(node.data.kind);
  return (
    <div className="wf-node-header">
      <span className="wf-node-icon" style={{ background: look.color }}>{look.icon}</span>
      <span className="wf-node-title">{node.data.title || t(`workflow.types.${node.data.kind}`, { defaultValue: node.data.kind })}</span>
      <span className="wf-node-id">{node.id}</span>
    </div>
  );
}

function Summary({ node }: { node: NodeProps<FlowNode> }) {
  const text = nodeSummary(node.data.kind, node.data.settings);
  return text ? <div className="wf-node-summary">{text}</div> : null;
}

export function FlowNodeView(node: NodeProps<FlowNode>) {
  const { className, problems, status } = useNodeClasses(node.id, node.selected);
  return (
    <div className={className} data-testid={`wf-node-${node.id}`} data-status={status ?? ""} data-problems={problems.length}>
      {hasIncoming(node.data.kind) && <Handle type="target" position={Position.Left} data-testid={`handle-${node.id}-in`} />}
      <Header node={node} />
      <Summary node={node} />
      <NodeHandles node={node} />
      <ProblemBadge problems={problems} />
    </div>
  );
}

/** An iteration: a box its inner nodes live in (a React Flow sub-flow). */
export function IterationNodeView(node: NodeProps<FlowNode>) {
  const { className, problems, status } = useNodeClasses(node.id, node.selected);
  return (
    <div className={`${className} wf-iteration`} data-testid={`wf-node-${node.id}`} data-status={status ?? ""} data-problems={problems.length}>
      <Handle type="target" position={Position.Left} data-testid={`handle-${node.id}-in`} />
      <Header node={node} />
      <Handle type="source" position={Position.Right} id={NEXT} data-testid={`handle-${node.id}-${NEXT}`} />
      <ProblemBadge problems={problems} />
    </div>
  );
}

export const NODE_VIEWS = { workflow: FlowNodeView, iteration: IterationNodeView };
