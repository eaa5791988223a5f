import { describe, expect, it } from "vitest";
import {
  addNode,
  blankDefinition,
  canConnect,
  canonical,
  defaultSettings,
  fromFlow,
  handlesOf,
  hasIncoming,
  iterationAt,
  nextNodeId,
  normalizeDefinition,
  pruneEdges,
  removeNodes,
  toFlow,
  type WorkflowDefinition,
} from "./definition";

const withIteration: WorkflowDefinition = {
  format_version: 1,
  max_steps: 50,
  nodes: [
    { id: "inner_1", type: "llm", title: "Inner", parent: "iteration_1", position: { x: 40, y: 60 }, timeout_seconds: 10, data: { model: "m" } },
    { id: "start", type: "start", title: "Start", parent: null, position: { x: 0, y: 0 }, timeout_seconds: null, data: { variables: [] } },
    { id: "iteration_1", type: "iteration", title: "Each", parent: null, position: { x: 300, y: 0 }, timeout_seconds: null, data: { items: "start.list" } },
    { id: "cond_1", type: "condition", title: "If", parent: null, position: { x: 600, y: 0 }, timeout_seconds: null, data: { cases: [{ id: "big", logic: "and", conditions: [] }] } },
    { id: "end", type: "end", title: "End", parent: null, position: { x: 900, y: 0 }, timeout_seconds: null, data: { output: "" } },
  ],
  edges: [
    { id: "e1", source: "start", target: "iteration_1", source_handle: "next" },
    { id: "e2", source: "iteration_1", target: "cond_1", source_handle: "next" },
    { id: "e3", source: "cond_1", target: "end", source_handle: "big" },
    { id: "e4", source: "cond_1", target: "end", source_handle: "else" },
  ],
};

describe("handles", () => {
  it("names each node type's outgoing handles", () => {
    expect(handlesOf("llm", {})).toEqual(["next"]);
    expect(handlesOf("start", {})).toEqual(["next"]);
    expect(handlesOf("end", {})).toEqual([]);
    expect(handlesOf("condition", { cases: [{ id: "a" }, { id: "b" }] })).toEqual(["a", "b", "else"]);
    expect(handlesOf("question_classifier", { classes: [{ id: "x" }, { id: "y" }] })).toEqual(["x", "y"]);
    expect(handlesOf("question_classifier", {})).toEqual([]);
    expect(hasIncoming("start")).toBe(false);
    expect(hasIncoming("end")).toBe(true);
  });
});

describe("definition ⇄ React Flow", () => {
  it("round-trips, children after their parent, relative to it", () => {
    const { nodes, edges } = toFlow(withIteration);
    const ids = nodes.map((n) => n.id);
    expect(ids.indexOf("iteration_1")).toBeLessThan(ids.indexOf("inner_1"));
    const inner = nodes.find((n) => n.id === "inner_1")!;
    expect(inner.parentId).toBe("iteration_1");
    expect(inner.extent).toBe("parent");
    expect(nodes.find((n) => n.id === "iteration_1")!.type).toBe("iteration");
    expect(edges.find((e) => e.id === "e3")!.sourceHandle).toBe("big");
    const back = fromFlow(nodes, edges, withIteration);
    expect(back.max_steps).toBe(50);
    const sorted = (d: WorkflowDefinition) => [...d.nodes].sort((a, b) => a.id.localeCompare(b.id));
    expect(sorted(back)).toEqual(sorted(withIteration));
    expect(back.edges).toEqual(withIteration.edges);
  });

  it("keeps inner nodes below their iteration's title", () => {
    const atZero = { ...withIteration, nodes: withIteration.nodes.map((n) => (n.id === "inner_1" ? { ...n, position: { x: 0, y: 0 } } : n)) };
    const inner = toFlow(atZero).nodes.find((n) => n.id === "inner_1")!;
    expect(inner.position.x).toBeGreaterThan(0);
    expect(inner.position.y).toBeGreaterThanOrEqual(40);
  });

  it("sizes an iteration to hold its children", () => {
    const { nodes } = toFlow(withIteration);
    const iteration = nodes.find((n) => n.id === "iteration_1")!;
    expect(Number(iteration.style?.width)).toBeGreaterThanOrEqual(40 + 190);
    expect(Number(iteration.style?.height)).toBeGreaterThanOrEqual(60 + 64);
  });

  it("has one canonical form: what the canvas gives back for what it was given", () => {
    const once = canonical(withIteration);
    expect(canonical(once)).toEqual(once);
    expect(once.nodes.map((n) => n.id).indexOf("iteration_1")).toBeLessThan(once.nodes.map((n) => n.id).indexOf("inner_1"));
    const { nodes, edges } = toFlow(withIteration);
    expect(fromFlow(nodes, edges, withIteration)).toEqual(once);
  });

  it("reads an empty or partial draft as a whole definition", () => {
    expect(normalizeDefinition({})).toEqual(blankDefinition());
    const d = normalizeDefinition({ nodes: [{ id: "start", type: "start" }], edges: [{ source: "start", target: "x" }] });
    expect(d.nodes[0]).toEqual({ id: "start", type: "start", title: "", parent: null, position: { x: 0, y: 0 }, timeout_seconds: null, data: {} });
    expect(d.edges[0]).toEqual({ id: "e1", source: "start", target: "x", source_handle: "next" });
  });
});

describe("editing", () => {
  it("numbers new nodes by type", () => {
    expect(nextNodeId("llm", ["start", "llm_1"])).toBe("llm_2");
    expect(nextNodeId("end", ["start"])).toBe("end");
    expect(nextNodeId("end", ["end"])).toBe("end_1");
    expect(nextNodeId("answer", [])).toMatch(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/);
  });

  it("adds a node selected, inside an iteration when given one", () => {
    const { nodes } = toFlow(withIteration);
    const added = addNode(nodes, "answer", { x: 10, y: 70 }, { text: "hi" }, "Answer", "iteration_1");
    expect(added.id).toBe("answer_1");
    const node = added.nodes.find((n) => n.id === "answer_1")!;
    expect(node.parentId).toBe("iteration_1");
    expect(node.selected).toBe(true);
    expect(added.nodes.filter((n) => n.selected)).toHaveLength(1);
  });

  it("checks connections", () => {
    const { nodes, edges } = toFlow(withIteration);
    expect(canConnect(nodes, edges, { source: "start", target: "end", sourceHandle: "next" })).toBe(true);
    expect(canConnect(nodes, edges, { source: "end", target: "start", sourceHandle: "next" })).toBe(false);
    expect(canConnect(nodes, edges, { source: "cond_1", target: "end", sourceHandle: "big" })).toBe(false); // already there
    expect(canConnect(nodes, edges, { source: "cond_1", target: "iteration_1", sourceHandle: "nope" })).toBe(false);
    expect(canConnect(nodes, edges, { source: "start", target: "inner_1", sourceHandle: "next" })).toBe(false); // other level
    expect(canConnect(nodes, edges, { source: "start", target: "start", sourceHandle: "next" })).toBe(false);
  });

  it("removes a node with its inside and its edges; drops edges of removed handles", () => {
    const { nodes, edges } = toFlow(withIteration);
    const after = removeNodes(nodes, edges, ["iteration_1"]);
    expect(after.nodes.map((n) => n.id).sort()).toEqual(["cond_1", "end", "start"]);
    expect(after.edges.map((e) => e.id)).toEqual(["e3", "e4"]);
    const changed = nodes.map((n) => (n.id === "cond_1" ? { ...n, data: { ...n.data, settings: { cases: [] } } } : n));
    expect(pruneEdges(changed, edges).map((e) => e.id)).toEqual(["e1", "e2", "e4"]);
  });

  it("finds the iteration under a point", () => {
    const { nodes } = toFlow(withIteration);
    expect(iterationAt(nodes, { x: 310, y: 10 })?.id).toBe("iteration_1");
    expect(iterationAt(nodes, { x: 10, y: 10 })).toBeNull();
  });

  it("gives a condition a case, a classifier classes and models their default", () => {
    expect(handlesOf("condition", defaultSettings("condition", {}, ""))).toEqual(["case_1", "else"]);
    expect(handlesOf("question_classifier", defaultSettings("question_classifier", {}, "qwen"))).toEqual(["class_1", "class_2"]);
    expect(defaultSettings("llm", { prompt: "{{ sys.query }}", model: "" }, "qwen").model).toBe("qwen");
    expect(defaultSettings("llm", { model: "" }, "").model).toBe("");
  });
});
