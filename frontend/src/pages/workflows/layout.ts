// Auto-layout, left to right (dagre), one level at a time: the top level, and inside each
// iteration its children (positions relative to it). Iterations are laid out inside first,
// so their size is known when their level is laid out.
import dagre from "@dagrejs/dagre";
import { fitIterations, ITERATION, ITERATION_PADDING, NODE_SIZE, type FlowEdge, type FlowNode } from "./definition";

function sizeOf(node: FlowNode): { width: number; height: number } {
  if (node.data.kind === ITERATION) return { width: Number(node.style?.width ?? 360), height: Number(node.style?.height ?? 200) };
  return { width: node.measured?.width ?? NODE_SIZE.width, height: node.measured?.height ?? NODE_SIZE.height };
}

function layoutLevel(nodes: FlowNode[], edges: FlowEdge[], parent: string | undefined, origin: { x: number; y: number }): Map<string, { x: number; y: number }> {
  const level = nodes.filter((n) => n.parentId === parent);
  const ids = new Set(level.map((n) => n.id));
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 30, ranksep: 60, marginx: 0, marginy: 0 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of level) graph.setNode(node.id, sizeOf(node));
  for (const edge of edges) if (ids.has(edge.source) && ids.has(edge.target)) graph.setEdge(edge.source, edge.target);
  dagre.layout(graph);
  const out = new Map<string, { x: number; y: number }>();
  for (const node of level) {
    const placed = graph.node(node.id);
    const { width, height } = sizeOf(node);
    out.set(node.id, { x: Math.round(origin.x + placed.x - width / 2), y: Math.round(origin.y + placed.y - height / 2) });
  }
  return out;
}

/** Every node placed left to right by its edges, levels apart. */
export function autoLayout(nodes: FlowNode[], edges: FlowEdge[]): FlowNode[] {
  let current = nodes;
  const iterations = current.filter((n) => n.data.kind === ITERATION);
  // Innermost first: an iteration's size depends on its children's places.
  const depth = (node: FlowNode): number => (node.parentId ? 1 + depth(current.find((n) => n.id === node.parentId) ?? ({} as FlowNode)) : 0);
  for (const iteration of [...iterations].sort((a, b) => depth(b) - depth(a))) {
    const places = layoutLevel(current, edges, iteration.id, { x: ITERATION_PADDING.left, y: ITERATION_PADDING.top });
    current = fitIterations(current.map((n) => (places.has(n.id) ? { ...n, position: places.get(n.id)! } : n)));
  }
  const top = layoutLevel(current, edges, undefined, { x: 0, y: 0 });
  return current.map((n) => (top.has(n.id) ? { ...n, position: top.get(n.id)! } : n));
}
