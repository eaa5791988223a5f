// A workflow app's definition (app.draft of a workflow app, as the API stores it) and its
// React Flow form: nodes with `data`, edges with their source handle. Pure, unit-tested.
//
// Handles: most nodes leave by `next`; a condition by its cases' ids and `else`; a question
// classifier by its classes' ids; end by none. Start has no incoming handle. Nodes inside an
// iteration (`parent`) are React Flow children (parentId, extent "parent", positions relative
// to the iteration), listed after their parent as React Flow requires.
import type { Edge, Node } from "@xyflow/react";

export interface Position {
  x: number;
  y: number;
}

export interface NodeDef {
  id: string;
  type: string;
  title: string;
  parent: string | null;
  position: Position;
  timeout_seconds: number | null;
  data: Record<string, unknown>;
}

export interface EdgeDef {
  id: string;
  source: string;
  target: string;
  source_handle: string;
}

export interface WorkflowDefinition {
  format_version: number;
  max_steps: number;
  nodes: NodeDef[];
  edges: EdgeDef[];
}

export interface FlowNodeData extends Record<string, unknown> {
  kind: string;
  title: string;
  timeout_seconds: number | null;
  settings: Record<string, unknown>;
}

export type FlowNode = Node<FlowNodeData>;
export type FlowEdge = Edge;

export const NODE_ID = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const NEXT = "next";
export const ELSE = "else";
export const ITERATION = "iteration";
/** The node types a canvas offers, in the palette's order. */
export const NODE_TYPES = [
  "start",
  "end",
  "answer",
  "llm",
  "knowledge_retrieval",
  "question_classifier",
  "condition",
  "agent",
  "tool",
  "http_request",
  "template_transform",
  "variable_aggregator",
  "parameter_extractor",
  "human_input",
  "iteration",
] as const;
/** One of each per workflow (at the top level). */
export const SINGLETONS = new Set(["start", "end"]);
/** Iteration's inner size when it has no child yet, and the room around its children. */
export const ITERATION_MIN = { width: 360, height: 200 };
export const ITERATION_PADDING = { left: 30, top: 50, right: 30, bottom: 30 };
/** The size a plain node is drawn at (for layout and fitting iterations). */
export const NODE_SIZE = { width: 190, height: 64 };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function ids(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).map((item) => item.id).filter((id): id is string => typeof id === "string" && id !== "");
}

/** The handles a node leaves by. */
export function handlesOf(type: string, settings: Record<string, unknown>): string[] {
  if (type === "end") return [];
  if (type === "condition") return [...ids(settings.cases), ELSE];
  if (type === "question_classifier") return ids(settings.classes);
  return [NEXT];
}

/** Whether edges may enter a node of this type. */
export function hasIncoming(type: string): boolean {
  return type !== "start";
}

/** A fresh workflow: start → end, as the server makes a blank one. */
export function blankDefinition(): WorkflowDefinition {
  return {
    format_version: 1,
    max_steps: 100,
    nodes: [
      { id: "start", type: "start", title: "Start", parent: null, position: { x: 0, y: 0 }, timeout_seconds: null, data: { variables: [] } },
      { id: "end", type: "end", title: "End", parent: null, position: { x: 400, y: 0 }, timeout_seconds: null, data: { output: "" } },
    ],
    edges: [{ id: "e_start_end", source: "start", target: "end", source_handle: NEXT }],
  };
}

/** A stored draft (possibly empty or partial) as a whole definition. */
export function normalizeDefinition(draft: unknown): WorkflowDefinition {
  if (!isObject(draft) || !Array.isArray(draft.nodes)) return blankDefinition();
  const nodes: NodeDef[] = draft.nodes.filter(isObject).map((n) => ({
    id: String(n.id ?? ""),
    type: String(n.type ?? ""),
    title: typeof n.title === "string" ? n.title : "",
    parent: typeof n.parent === "string" ? n.parent : null,
    position: isObject(n.position) ? { x: Number(n.position.x ?? 0), y: Number(n.position.y ?? 0) } : { x: 0, y: 0 },
    timeout_seconds: typeof n.timeout_seconds === "number" ? n.timeout_seconds : null,
    data: isObject(n.data) ? n.data : {},
  }));
  const edges: EdgeDef[] = (Array.isArray(draft.edges) ? draft.edges : []).filter(isObject).map((e, index) => ({
    id: typeof e.id === "string" && e.id ? e.id : `e${index + 1}`,
    source: String(e.source ?? ""),
    target: String(e.target ?? ""),
    source_handle: typeof e.source_handle === "string" ? e.source_handle : NEXT,
  }));
  return {
    format_version: typeof draft.format_version === "number" ? draft.format_version : 1,
    max_steps: typeof draft.max_steps === "number" ? draft.max_steps : 100,
    nodes,
    edges,
  };
}

/** Parents before their children (React Flow draws a child only after its parent). */
function parentsFirst<T extends { id: string }>(nodes: T[], parentOf: (node: T) => string | null | undefined): T[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = (node: T): number => {
    let d = 0;
    let parent = parentOf(node);
    const seen = new Set<string>();
    while (parent && byId.has(parent) && !seen.has(parent)) {
      seen.add(parent);
      d += 1;
      parent = parentOf(byId.get(parent)!);
    }
    return d;
  };
  return nodes.map((node, index) => ({ node, index, depth: depth(node) })).sort((a, b) => a.depth - b.depth || a.index - b.index).map((x) => x.node);
}

/** Each iteration sized to hold its children (they may have moved or been added). */
export function fitIterations(nodes: FlowNode[]): FlowNode[] {
  return nodes.map((node) => {
    if (node.data.kind !== ITERATION) return node;
    const children = nodes.filter((n) => n.parentId === node.id);
    let width = ITERATION_MIN.width;
    let height = ITERATION_MIN.height;
    for (const child of children) {
      width = Math.max(width, child.position.x + (child.measured?.width ?? NODE_SIZE.width) + ITERATION_PADDING.right);
      height = Math.max(height, child.position.y + (child.measured?.height ?? NODE_SIZE.height) + ITERATION_PADDING.bottom);
    }
    const style = node.style ?? {};
    if (style.width === width && style.height === height) return node;
    return { ...node, style: { ...style, width, height }, width, height };
  });
}

export function edgeId(source: string, handle: string, target: string): string {
  return `e_${source}_${handle}_${target}`;
}

/** A definition → React Flow's nodes and edges. */
export function toFlow(definition: WorkflowDefinition): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const known = new Set(definition.nodes.map((n) => n.id));
  const nodes: FlowNode[] = parentsFirst(definition.nodes, (n) => n.parent).map((n) => {
    const inside = n.parent !== null && known.has(n.parent);
    return {
      id: n.id,
      type: n.type === ITERATION ? "iteration" : "workflow",
      // Inside an iteration, below its title (templates place inner nodes at 0, 0).
      position: inside ? { x: Math.max(n.position.x, ITERATION_PADDING.left), y: Math.max(n.position.y, ITERATION_PADDING.top) } : { ...n.position },
      ...(inside ? { parentId: n.parent!, extent: "parent" as const } : {}),
      data: { kind: n.type, title: n.title, timeout_seconds: n.timeout_seconds, settings: n.data },
      deletable: true,
    };
  });
  const edges: FlowEdge[] = definition.edges.map((e) => ({
    id: e.id || edgeId(e.source, e.source_handle, e.target),
    source: e.source,
    target: e.target,
    sourceHandle: e.source_handle,
  }));
  return { nodes: fitIterations(nodes), edges };
}

/** React Flow's nodes and edges → a definition (the rest, max_steps, from `base`). */
export function fromFlow(nodes: FlowNode[], edges: FlowEdge[], base: Pick<WorkflowDefinition, "max_steps"> = { max_steps: 100 }): WorkflowDefinition {
  return {
    format_version: 1,
    max_steps: base.max_steps,
    nodes: nodes.map((n) => ({
      id: n.id,
      type: n.data.kind,
      title: n.data.title,
      parent: n.parentId ?? null,
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      timeout_seconds: n.data.timeout_seconds,
      data: n.data.settings,
    })),
    edges: edges.map((e) => ({ id: e.id, source: e.source, target: e.target, source_handle: e.sourceHandle ?? NEXT })),
  };
}

/** A definition as the canvas gives it back (parents first, whole positions): two
 *  definitions the canvas shows alike are equal in this form. */
export function canonical(definition: WorkflowDefinition): WorkflowDefinition {
  const { nodes, edges } = toFlow(definition);
  return fromFlow(nodes, edges, definition);
}

/** The next free id for a node of `type`: llm_1, llm_2, … (start and end take their name). */
export function nextNodeId(type: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (SINGLETONS.has(type) && !used.has(type)) return type;
  for (let n = 1; ; n++) {
    const id = `${type}_${n}`;
    if (!used.has(id)) return id;
  }
}

/** Whether a connection may be made: handles that exist, not into start, not a loop on
 *  itself, within one level (both at the top, or both inside the same iteration), and not
 *  a second edge from the same handle to the same target. */
export function canConnect(
  nodes: FlowNode[],
  edges: FlowEdge[],
  connection: { source: string | null; target: string | null; sourceHandle?: string | null },
): boolean {
  const source = nodes.find((n) => n.id === connection.source);
  const target = nodes.find((n) => n.id === connection.target);
  if (!source || !target || source.id === target.id) return false;
  if (!hasIncoming(target.data.kind)) return false;
  if ((source.parentId ?? null) !== (target.parentId ?? null)) return false;
  const handle = connection.sourceHandle ?? NEXT;
  if (!handlesOf(source.data.kind, source.data.settings).includes(handle)) return false;
  return !edges.some((e) => e.source === source.id && e.target === target.id && (e.sourceHandle ?? NEXT) === handle);
}

/** Edges whose source handle no longer exists (a case or class was removed) are dropped. */
export function pruneEdges(nodes: FlowNode[], edges: FlowEdge[]): FlowEdge[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  return edges.filter((e) => {
    const source = byId.get(e.source);
    if (!source || !byId.has(e.target)) return false;
    return handlesOf(source.data.kind, source.data.settings).includes(e.sourceHandle ?? NEXT);
  });
}

/** The nodes of `removed` and their descendants (an iteration takes its inside with it). */
export function withDescendants(nodes: FlowNode[], removed: Set<string>): Set<string> {
  const out = new Set(removed);
  let grew = true;
  while (grew) {
    grew = false;
    for (const n of nodes) {
      if (n.parentId && out.has(n.parentId) && !out.has(n.id)) {
        out.add(n.id);
        grew = true;
      }
    }
  }
  return out;
}

/** Remove nodes (with what is inside them) and every edge touching them. */
export function removeNodes(nodes: FlowNode[], edges: FlowEdge[], ids: Iterable<string>): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const gone = withDescendants(nodes, new Set(ids));
  return {
    nodes: nodes.filter((n) => !gone.has(n.id)),
    edges: edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)),
  };
}

/** Add a node (inside `parent` when given: position relative to it), parents first kept. */
export function addNode(
  nodes: FlowNode[],
  type: string,
  position: Position,
  settings: Record<string, unknown>,
  title: string,
  parent: string | null = null,
): { nodes: FlowNode[]; id: string } {
  const id = nextNodeId(type, nodes.map((n) => n.id));
  const node: FlowNode = {
    id,
    type: type === ITERATION ? "iteration" : "workflow",
    position,
    ...(parent ? { parentId: parent, extent: "parent" as const } : {}),
    data: { kind: type, title, timeout_seconds: null, settings },
    selected: true,
  };
  const others = nodes.map((n) => (n.selected ? { ...n, selected: false } : n));
  return { nodes: fitIterations([...others, node]), id };
}

/** Default settings of a new node whose type's schema gives no usable default. */
export function defaultSettings(type: string, fromSchema: Record<string, unknown>, model: string): Record<string, unknown> {
  const settings = { ...fromSchema };
  if (type === "condition" && !Array.isArray(settings.cases)) {
    settings.cases = [{ id: "case_1", logic: "and", conditions: [{ variable: "sys.query", operator: "not_empty", value: null }] }];
  }
  if (type === "question_classifier" && !Array.isArray(settings.classes)) {
    settings.classes = [
      { id: "class_1", name: "" },
      { id: "class_2", name: "" },
    ];
  }
  if (["llm", "question_classifier", "parameter_extractor", "agent"].includes(type) && (settings.model === undefined || settings.model === "") && model) {
    settings.model = model;
  }
  if (type === "answer" && settings.text === undefined) settings.text = "{{ sys.query }}";
  return settings;
}

/** A unique id for a new case / class of a list (case_1, case_2, …). */
export function nextItemId(prefix: string, list: unknown): string {
  return nextNodeId(prefix, ids(list));
}

/** The innermost iteration whose box holds a point given in the canvas's coordinates. */
export function iterationAt(nodes: FlowNode[], point: Position): FlowNode | null {
  const hits = nodes.filter((n) => {
    if (n.data.kind !== ITERATION) return false;
    const at = absolutePosition(nodes, n.id);
    const width = Number(n.style?.width ?? ITERATION_MIN.width);
    const height = Number(n.style?.height ?? ITERATION_MIN.height);
    return point.x >= at.x && point.x <= at.x + width && point.y >= at.y && point.y <= at.y + height;
  });
  return hits[hits.length - 1] ?? null;
}

/** The absolute position of a node (its parents' positions added). */
export function absolutePosition(nodes: FlowNode[], id: string): Position {
  const node = nodes.find((n) => n.id === id);
  if (!node) return { x: 0, y: 0 };
  const base = node.parentId ? absolutePosition(nodes, node.parentId) : { x: 0, y: 0 };
  return { x: base.x + node.position.x, y: base.y + node.position.y };
}
