import { describe, expect, it } from "vitest";
import { NODE_SIZE, toFlow, type FlowNode, type WorkflowDefinition } from "./definition";
import { autoLayout } from "./layout";

function node(id: string, type: string, parent: string | null = null) {
  return { id, type, title: id, parent, position: { x: 0, y: 0 }, timeout_seconds: null, data: type === "condition" ? { cases: [{ id: "a", conditions: [] }] } : {} };
}

const definition: WorkflowDefinition = {
  format_version: 1,
  max_steps: 100,
  nodes: [node("start", "start"), node("cond", "condition"), node("a1", "answer"), node("a2", "answer"), node("it", "iteration"), node("in1", "llm", "it"), node("in2", "llm", "it"), node("end", "end")],
  edges: [
    { id: "1", source: "start", target: "cond", source_handle: "next" },
    { id: "2", source: "cond", target: "a1", source_handle: "a" },
    { id: "3", source: "cond", target: "a2", source_handle: "else" },
    { id: "4", source: "a1", target: "it", source_handle: "next" },
    { id: "5", source: "a2", target: "end", source_handle: "next" },
    { id: "6", source: "it", target: "end", source_handle: "next" },
    { id: "7", source: "in1", target: "in2", source_handle: "next" },
  ],
};

function box(n: FlowNode) {
  const width = Number(n.style?.width ?? NODE_SIZE.width);
  const height = Number(n.style?.height ?? NODE_SIZE.height);
  return { x: n.position.x, y: n.position.y, width, height };
}

function overlaps(a: ReturnType<typeof box>, b: ReturnType<typeof box>) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe("autoLayout", () => {
  const { nodes, edges } = toFlow(definition);
  const laid = autoLayout(nodes, edges);
  const at = (id: string) => laid.find((n) => n.id === id)!;

  it("places no two nodes of one level over each other", () => {
    for (const parent of [undefined, "it"]) {
      const level = laid.filter((n) => n.parentId === parent).map(box);
      for (let i = 0; i < level.length; i++) for (let j = i + 1; j < level.length; j++) expect(overlaps(level[i]!, level[j]!)).toBe(false);
    }
  });

  it("goes left to right along the edges", () => {
    expect(at("start").position.x).toBeLessThan(at("cond").position.x);
    expect(at("cond").position.x).toBeLessThan(at("a1").position.x);
    expect(at("it").position.x).toBeLessThan(at("end").position.x);
    expect(at("in1").position.x).toBeLessThan(at("in2").position.x);
  });

  it("keeps children inside their iteration", () => {
    const it = box(at("it"));
    for (const id of ["in1", "in2"]) {
      const child = box(at(id));
      expect(child.x).toBeGreaterThanOrEqual(0);
      expect(child.y).toBeGreaterThanOrEqual(0);
      expect(child.x + child.width).toBeLessThanOrEqual(it.width);
      expect(child.y + child.height).toBeLessThanOrEqual(it.height);
    }
  });
});
