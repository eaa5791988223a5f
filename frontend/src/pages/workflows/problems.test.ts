import { describe, expect, it } from "vitest";
import { problemsByNode, variableChoices } from "./problems";
import { groupStepsByNode, isWorkflowRun } from "./steps";

describe("problems", () => {
  it("groups by node, leaving out those of no node", () => {
    const byNode = problemsByNode([
      { node_id: "llm_1", setting: "model", message: "unknown model" },
      { node_id: null, setting: null, message: "no end node" },
      { node_id: "llm_1", setting: null, message: "unreachable" },
    ]);
    expect(byNode).toEqual({ llm_1: ["model: unknown model", "unreachable"] });
  });

  it("offers variables as node.output, sys first, not the node's own", () => {
    const choices = variableChoices({ start: { query: "string", n: "number" }, llm_1: { text: "string" } }, "llm_1").map((c) => c.value);
    expect(choices).toEqual(["sys.query", "sys.session_id", "start.query", "start.n"]);
  });
});

describe("steps", () => {
  it("groups a workflow run's steps by node in first-run order", () => {
    const steps = [
      { node_id: "start", kind: "node" },
      { node_id: "llm_1", kind: "model" },
      { node_id: "llm_1", kind: "node" },
      { node_id: "", kind: "tool" },
      { node_id: "start", kind: "node" },
    ];
    const groups = groupStepsByNode(steps);
    expect(groups.map((g) => [g.node_id, g.steps.length])).toEqual([
      ["start", 2],
      ["llm_1", 2],
      [null, 1],
    ]);
    expect(isWorkflowRun(steps)).toBe(true);
    expect(isWorkflowRun([{ kind: "model" }])).toBe(false);
  });
});
