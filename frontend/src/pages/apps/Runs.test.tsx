import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace, type Schemas } from "../../api/client";
import { WorkspaceProvider, type Me } from "../../session/workspace";
import type { App } from "./model";
import { RunsTab } from "./Runs";

const me: Me = {
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role: "admin", created_at: "2026-01-01T00:00:00Z" }],
};

const run = (id: string, appId: string): Schemas["RunOut"] => ({
  id,
  app_id: appId,
  parent_run_id: null,
  answer: "Booked",
  error_code: "",
  error_message: "",
  started_at: "2026-01-01T00:00:00Z",
  finished_at: "2026-01-01T00:00:01Z",
  first_token_ms: null,
  input_tokens: 3,
  output_tokens: 4,
  latency_ms: 120,
  prompt: "Book it",
  request_id: "req",
  session_id: "s1",
  status: "succeeded",
  surface: "playground",
  version: null,
});

const step = (index: number, nodeId: string, kind: string, name: string, output: Record<string, unknown> = {}): Schemas["StepOut"] => ({
  index,
  node_id: nodeId,
  kind,
  name,
  input: {},
  output,
  error: "",
  input_tokens: 0,
  output_tokens: 0,
  latency_ms: 5,
});

const detail: Schemas["RunDetailOut"] = {
  ...run("r1", "w1"),
  children: [{ ...run("c1", "helper"), parent_run_id: "r1", prompt: "Sub task" }],
  steps: [
    step(0, "start", "node", "Start", { status: "succeeded", outputs: {}, branch: "next" }),
    step(1, "llm_1", "model", "qwen"),
    step(2, "llm_1", "node", "Write", { status: "succeeded", outputs: { text: "x" }, branch: "next" }),
  ],
};

const ok = <T,>(data: T) => Promise.resolve({ data, response: new Response(null, { status: 200 }) });

beforeEach(() => localStorage.clear());
afterEach(() => {
  vi.restoreAllMocks();
  setCurrentWorkspace(null);
});

describe("RunsTab", () => {
  it("groups a workflow run's steps by node and lists its sub-runs", async () => {
    vi.spyOn(api, "GET").mockImplementation(((path: string) => {
      if (path === "/console/api/workspaces") return ok(me.workspaces);
      if (path === "/console/api/apps/{app_id}/runs") return ok({ items: [run("r1", "w1")], count: 1 });
      if (path === "/console/api/apps/{app_id}/runs/{run_id}") return ok(detail);
      if (path === "/console/api/apps") return ok([{ id: "helper", name: "Helper agent" }]);
      throw new Error(`unexpected GET ${path}`);
    }) as never);
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={client}>
        <MemoryRouter initialEntries={["/apps/w1?tab=runs&run=r1"]}>
          <WorkspaceProvider me={me}>
            <RunsTab app={{ id: "w1", kind: "workflow" } as App} />
          </WorkspaceProvider>
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const groups = await screen.findAllByTestId("run-node");
    expect(groups).toHaveLength(2);
    expect(within(groups[1]!).getAllByTestId("run-step")).toHaveLength(2);
    expect(within(groups[1]!).getByText("llm_1")).toBeTruthy();
    const child = await screen.findByTestId("child-run");
    const link = await within(child).findByRole("link", { name: "Helper agent" });
    expect(link.getAttribute("href")).toBe("/apps/helper?tab=runs&run=c1");
  });
});
