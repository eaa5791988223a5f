import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace, type Schemas } from "../api/client";
import { WorkspaceProvider, type Me } from "../session/workspace";
import { AppsPage } from "./Apps";

const me: Me = {
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role: "admin", created_at: "2026-01-01T00:00:00Z" }],
};

const app = (id: string, kind: "agent" | "workflow", name: string): Schemas["AppOut"] => ({
  id,
  kind,
  name,
  description: "",
  draft: {},
  published_version: null,
  version_count: 0,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
});

const templates: Schemas["TemplateOut"][] = [{ id: "intent_rag", name: "Intent-routed RAG Q&A", description: "Classify, retrieve, answer.", definition: { nodes: [{}, {}, {}] } }];

const ok = <T,>(data: T, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });

function renderPage() {
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/workspaces") return ok(me.workspaces);
    if (path === "/console/api/apps") return ok([app("a1", "agent", "Helper"), app("w1", "workflow", "Router")]);
    if (path === "/console/api/workflow/templates") return ok(templates);
    throw new Error(`unexpected GET ${path}`);
  }) as never);
  const post = vi.spyOn(api, "POST").mockImplementation((() => ok(app("new", "workflow", "Flow"), 201)) as never);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={["/apps"]}>
        <WorkspaceProvider me={me}>
          <Routes>
            <Route path="/apps" element={<AppsPage />} />
            <Route path="/apps/:id" element={<div>opened</div>} />
          </Routes>
        </WorkspaceProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return post;
}

beforeEach(() => {
  localStorage.clear();
  document.cookie = "csrftoken=tok";
});

afterEach(() => {
  vi.restoreAllMocks();
  setCurrentWorkspace(null);
});

describe("AppsPage", () => {
  it("shows each app's kind", async () => {
    renderPage();
    const row = (await screen.findByText("Router")).closest("tr")!;
    expect(within(row).getByText("Workflow")).toBeTruthy();
    expect(within(screen.getByText("Helper").closest("tr")!).getByText("Agent")).toBeTruthy();
  });

  it("creates a workflow from a template", async () => {
    const post = renderPage();
    fireEvent.click((await screen.findAllByRole("button", { name: /Create app/ }))[0]!);
    const dialog = await screen.findByRole("dialog");
    fireEvent.click(within(dialog).getByText("Workflow"));
    fireEvent.change(within(dialog).getByLabelText("Name"), { target: { value: "Flow" } });
    fireEvent.click(await within(dialog).findByText("Intent-routed RAG Q&A"));
    fireEvent.click(within(dialog).getByRole("button", { name: "Create" }));
    await waitFor(() => expect(post).toHaveBeenCalled());
    expect(post.mock.calls[0]![0]).toBe("/console/api/apps");
    expect((post.mock.calls[0]![1] as { body: unknown }).body).toEqual({ name: "Flow", description: "", kind: "workflow", template: "intent_rag" });
    await screen.findByText("opened");
  });

  it("creates an agent without a template", async () => {
    const post = renderPage();
    fireEvent.click((await screen.findAllByRole("button", { name: /Create app/ }))[0]!);
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Name"), { target: { value: "Helper 2" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Create" }));
    await waitFor(() => expect(post).toHaveBeenCalled());
    expect((post.mock.calls[0]![1] as { body: unknown }).body).toEqual({ name: "Helper 2", description: "", kind: "agent" });
  });
});
