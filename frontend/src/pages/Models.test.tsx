import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace, type Schemas } from "../api/client";
import { WorkspaceProvider, type Me } from "../session/workspace";
import { ModelsPage } from "./Models";

const me = (role: string): Me => ({
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role, created_at: "2026-01-01T00:00:00Z" }],
});

const model = (over: Partial<Schemas["WorkspaceModelOut"]> = {}): Schemas["WorkspaceModelOut"] => ({
  name: "qwen-plus",
  kind: "endpoint",
  display_name: "",
  capabilities: ["chat"],
  is_default: true,
  context_window: 32768,
  embedding_dimension: null,
  default_parameters: {},
  price_input_per_1k: "0.0008",
  price_output_per_1k: "0.002",
  response_cache_seconds: 0,
  ...over,
});

const ok = <T,>(data: T, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });

function mockModels(models: Schemas["WorkspaceModelOut"][]) {
  return vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/models") return ok(models);
    throw new Error(`unexpected GET ${path}`);
  }) as never);
}

function renderPage(role = "admin") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <WorkspaceProvider me={me(role)}>
        <ModelsPage />
      </WorkspaceProvider>
    </QueryClientProvider>,
  );
}

beforeEach(() => {
  localStorage.clear();
  document.cookie = "csrftoken=tok";
});
afterEach(() => {
  vi.restoreAllMocks();
  setCurrentWorkspace(null);
});

describe("ModelsPage response cache", () => {
  it("lets an admin keep a chat model's deterministic answers for an hour", async () => {
    mockModels([model(), model({ name: "text-embedding-v3", capabilities: ["embedding"], is_default: false })]);
    const patch = vi.spyOn(api, "PATCH").mockImplementation((() => ok(model({ response_cache_seconds: 3600 }))) as never);
    renderPage();
    const select = await screen.findByTestId("response-cache-qwen-plus");
    expect(screen.queryByTestId("response-cache-text-embedding-v3")).toBeNull();
    fireEvent.mouseDown(within(select).getByRole("combobox"));
    fireEvent.click(await screen.findByTitle("1 hour"));
    await waitFor(() => expect(patch).toHaveBeenCalledOnce());
    expect(patch.mock.calls[0]).toEqual([
      "/console/api/models/{name}/settings",
      { params: { path: { name: "qwen-plus" } }, body: { response_cache_seconds: 3600 } },
    ]);
  }, 15_000);

  it("shows the setting without a choice to a developer", async () => {
    mockModels([model({ response_cache_seconds: 86400 })]);
    renderPage("developer");
    await screen.findByText("1 day");
    expect(screen.queryByTestId("response-cache-qwen-plus")).toBeNull();
  }, 15_000);
});
