import { describe, expect, it } from "vitest";
import { applyRunEvent, EMPTY_TRACE, nodeStates, settle } from "./runState";

describe("run events", () => {
  it("lights nodes as they start and finish", () => {
    let trace = applyRunEvent(EMPTY_TRACE, "node_started", { node_id: "start", node_type: "start", title: "Start", inputs: { query: "hi" } });
    expect(nodeStates(trace).start!.status).toBe("running");
    trace = applyRunEvent(trace, "node_finished", { node_id: "start", node_type: "start", title: "Start", status: "succeeded", outputs: { query: "hi" }, latency_ms: 3 });
    trace = applyRunEvent(trace, "node_started", { node_id: "llm_1", node_type: "llm", title: "LLM", inputs: {} });
    trace = applyRunEvent(trace, "text", { text: "ignored" });
    let states = nodeStates(trace);
    expect(states.start).toMatchObject({ status: "succeeded", inputs: { query: "hi" }, outputs: { query: "hi" }, latency_ms: 3 });
    expect(states.llm_1!.status).toBe("running");
    trace = applyRunEvent(trace, "node_finished", { node_id: "llm_1", node_type: "llm", title: "LLM", status: "failed", error: "boom", input_tokens: 5, output_tokens: 0 });
    states = nodeStates(trace);
    expect(states.llm_1).toMatchObject({ status: "failed", error: "boom", input_tokens: 5 });
    expect(trace.entries).toHaveLength(2);
  });

  it("keeps one entry per run of a node (iterations), the state the latest", () => {
    let trace = EMPTY_TRACE;
    for (const status of ["succeeded", "failed"] as const) {
      trace = applyRunEvent(trace, "node_started", { node_id: "inner", node_type: "llm", title: "I" });
      trace = applyRunEvent(trace, "node_finished", { node_id: "inner", node_type: "llm", title: "I", status });
    }
    expect(trace.entries.map((e) => e.status)).toEqual(["succeeded", "failed"]);
    expect(nodeStates(trace).inner!.status).toBe("failed");
  });

  it("shows a waiting node, and a finish without a start", () => {
    const trace = applyRunEvent(EMPTY_TRACE, "node_finished", { node_id: "ask", node_type: "human_input", title: "Ask", status: "waiting" });
    expect(nodeStates(trace).ask!.status).toBe("waiting");
  });

  it("settles runs left running when the stream ends", () => {
    const trace = applyRunEvent(EMPTY_TRACE, "node_started", { node_id: "x", node_type: "llm", title: "X" });
    expect(nodeStates(settle(trace)).x!.status).toBe("failed");
  });
});
