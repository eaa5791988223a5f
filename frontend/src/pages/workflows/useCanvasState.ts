// The canvas's editing state: nodes and edges with undo/redo (history.ts). Moves while
// dragging, selection and measuring change the present without an undo step (a drag's start
// records one); adding, connecting, deleting, laying out and editing a node record one
// (edits of one field of one node in a row merge into one step).
import { applyEdgeChanges, applyNodeChanges, type Connection, type EdgeChange, type NodeChange } from "@xyflow/react";
import { useCallback, useRef, useState } from "react";
import {
  addNode,
  canConnect,
  edgeId,
  fitIterations,
  NEXT,
  pruneEdges,
  removeNodes,
  toFlow,
  type FlowEdge,
  type FlowNode,
  type FlowNodeData,
  type Position,
  type WorkflowDefinition,
} from "./definition";
import { canRedo, canUndo, record, redo, replace, startHistory, undo, type History } from "./history";
import { autoLayout } from "./layout";

export interface Snapshot {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

const MERGE_MS = 1500;

export function useCanvasState(initial: WorkflowDefinition) {
  const [history, setHistory] = useState<History<Snapshot>>(() => startHistory(toFlow(initial)));
  const lastEdit = useRef<{ key: string; at: number } | null>(null);
  const { nodes, edges } = history.present;

  const commit = useCallback((change: (s: Snapshot) => Snapshot) => {
    lastEdit.current = null;
    setHistory((h) => record(h, change(h.present)));
  }, []);
  const quiet = useCallback((change: (s: Snapshot) => Snapshot) => setHistory((h) => replace(h, change(h.present))), []);

  /** Show `definition` (stored elsewhere: a save's normalized answer, a rollback) as an undo
   *  step, the selection kept. */
  const reset = useCallback((definition: WorkflowDefinition) => {
    lastEdit.current = null;
    setHistory((h) => {
      const selected = new Set(h.present.nodes.filter((n) => n.selected).map((n) => n.id));
      const next = toFlow(definition);
      return record(h, { ...next, nodes: next.nodes.map((n) => (selected.has(n.id) ? { ...n, selected: true } : n)) });
    });
  }, []);

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      const kept = changes.filter((c) => c.type !== "remove");
      if (!kept.length) return;
      const dragEnd = kept.some((c) => c.type === "position" && !c.dragging);
      quiet((s) => {
        const moved = applyNodeChanges(kept, s.nodes);
        return { ...s, nodes: dragEnd ? fitIterations(moved) : moved };
      });
    },
    [quiet],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange<FlowEdge>[]) => {
      const kept = changes.filter((c) => c.type !== "remove");
      if (kept.length) quiet((s) => ({ ...s, edges: applyEdgeChanges(kept, s.edges) }));
    },
    [quiet],
  );

  /** Called when a drag begins: the positions before it become an undo step. */
  const onDragStart = useCallback(() => commit((s) => ({ ...s })), [commit]);

  const isValidConnection = useCallback((c: Connection | FlowEdge) => canConnect(nodes, edges, c), [nodes, edges]);

  const onConnect = useCallback(
    (c: Connection) =>
      commit((s) => {
        if (!canConnect(s.nodes, s.edges, c)) return s;
        const handle = c.sourceHandle ?? NEXT;
        return { ...s, edges: [...s.edges, { id: edgeId(c.source, handle, c.target), source: c.source, target: c.target, sourceHandle: handle }] };
      }),
    [commit],
  );

  const add = useCallback(
    (type: string, position: Position, settings: Record<string, unknown>, title: string, parent: string | null) => {
      let id = "";
      commit((s) => {
        const added = addNode(s.nodes, type, position, settings, title, parent);
        id = added.id;
        return { nodes: added.nodes, edges: s.edges.map((e) => (e.selected ? { ...e, selected: false } : e)) };
      });
      return id;
    },
    [commit],
  );

  /** Delete the selected nodes (with their inside) and edges. */
  const removeSelected = useCallback(
    () =>
      commit((s) => {
        const chosen = s.nodes.filter((n) => n.selected).map((n) => n.id);
        const after = removeNodes(s.nodes, s.edges, chosen);
        return { nodes: fitIterations(after.nodes), edges: after.edges.filter((e) => !e.selected) };
      }),
    [commit],
  );

  const removeNode = useCallback((id: string) => commit((s) => removeNodes(s.nodes, s.edges, [id])), [commit]);

  const updateNode = useCallback((id: string, data: FlowNodeData, field: string) => {
    const key = `${id}:${field}`;
    const now = Date.now();
    const merge = lastEdit.current?.key === key && now - lastEdit.current.at < MERGE_MS;
    lastEdit.current = { key, at: now };
    setHistory((h) => {
      const nodes = h.present.nodes.map((n) => (n.id === id ? { ...n, data } : n));
      const next = { nodes, edges: pruneEdges(nodes, h.present.edges) };
      return merge ? replace(h, next) : record(h, next);
    });
  }, []);

  const select = useCallback(
    (id: string | null) => quiet((s) => ({ nodes: s.nodes.map((n) => (n.selected === (n.id === id) ? n : { ...n, selected: n.id === id })), edges: s.edges })),
    [quiet],
  );

  const layout = useCallback(() => commit((s) => ({ ...s, nodes: autoLayout(s.nodes, s.edges) })), [commit]);

  return {
    nodes,
    edges,
    reset,
    onNodesChange,
    onEdgesChange,
    onConnect,
    onDragStart,
    isValidConnection,
    add,
    removeSelected,
    removeNode,
    updateNode,
    select,
    layout,
    undo: useCallback(() => {
      lastEdit.current = null;
      setHistory(undo);
    }, []),
    redo: useCallback(() => {
      lastEdit.current = null;
      setHistory(redo);
    }, []),
    canUndo: canUndo(history),
    canRedo: canRedo(history),
  };
}
