import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SseEvent } from "../../api/sse";
import type { App } from "../apps/model";
import type { NodeRun } from "./runState";
import { WorkflowPlayground } from "./WorkflowPlayground";

// The canvas (React Flow) is replaced by the states it is given.
vi.mock("./RunCanvas", () => ({
  RunCanvas: ({ states }: { states: Record<string, NodeRun> }) => (
    <ul data-testid="states">
      {Object.values(states).map((s) => (
        <li key={s.node_id} data-testid={`state-${s.node_id}`}>
          {s.status}
        </li>
      ))}
    </ul>
  ),
}));

const calls: { body: Record<string, unknown> }[] = [];
let script: SseEvent[][] = [];
vi.mock("../../api/sse", () => ({
  postEventStream: async (_path: string, body: Record<string, unknown>, onEvent: (e: SseEvent) => void) => {
    calls.push({ body });
    for (const event of script.shift() ?? []) onEvent(event);
  },
}));

const app = {
  id: "w1",
  kind: "workflow",
  name: "Flow",
  description: "",
  draft: {
    nodes: [
      { id: "start", type: "start", title: "Start", data: { variables: [{ name: "city", type: "string", required: true }] } },
      { id: "ask", type: "human_input", title: "Ask", data: { question: "Which day?" } },
      { id: "end", type: "end", title: "End", data: {} },
    ],
    edges: [],
  },
  published_version: null,
  version_count: 0,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
} as App;

afterEach(() => {
  calls.length = 0;
});

const node = (id: string, type: string) => ({ node_id: id, node_type: type, title: id });

describe("WorkflowPlayground", () => {
  it("lights the nodes as they run, asks the waiting node's question, and resumes with the answer", async () => {
    script = [
      [
        { event: "node_started", data: { ...node("start", "start"), inputs: {} } },
        { event: "node_finished", data: { ...node("start", "start"), status: "succeeded", outputs: { query: "hi" } } },
        { event: "node_started", data: { ...node("ask", "human_input"), inputs: {} } },
        { event: "node_finished", data: { ...node("ask", "human_input"), status: "waiting" } },
        { event: "done", data: { text: "Which day?", session_id: "s1", waiting_for: { node_id: "ask", question: "Which day?" } } },
      ],
      [
        { event: "node_started", data: { ...node("ask", "human_input"), inputs: {} } },
        { event: "node_finished", data: { ...node("ask", "human_input"), status: "succeeded", outputs: { answer: "Monday" } } },
        { event: "node_started", data: { ...node("end", "end"), inputs: {} } },
        { event: "node_finished", data: { ...node("end", "end"), status: "succeeded", outputs: { output: "Booked" } } },
        { event: "text", data: { text: "Booked" } },
        { event: "done", data: { text: "Booked", session_id: "s1", waiting_for: null } },
      ],
    ];
    render(<WorkflowPlayground app={app} dirty={false} />);
    fireEvent.change(screen.getByTestId("var-city"), { target: { value: "Hangzhou" } });
    fireEvent.change(screen.getByTestId("app-input"), { target: { value: "hi" } });
    fireEvent.click(screen.getByTestId("app-send"));
    await screen.findByTestId("human-input");
    expect(screen.getByTestId("state-start").textContent).toBe("succeeded");
    expect(screen.getByTestId("state-ask").textContent).toBe("waiting");
    expect(calls[0]!.body).toEqual({ prompt: "hi", session_id: null, variables: { city: "Hangzhou" }, stream: true });

    fireEvent.change(screen.getByTestId("human-answer"), { target: { value: "Monday" } });
    fireEvent.click(screen.getByTestId("human-send"));
    await waitFor(() => expect(screen.queryByTestId("human-input")).toBeNull());
    await waitFor(() => expect(screen.getByTestId("state-end").textContent).toBe("succeeded"));
    expect(screen.getByTestId("state-ask").textContent).toBe("succeeded");
    expect(calls[1]!.body).toMatchObject({ prompt: "Monday", session_id: "s1" });
    expect(screen.getAllByTestId("app-turn-assistant").at(-1)!.textContent).toBe("Booked");
  });
});
