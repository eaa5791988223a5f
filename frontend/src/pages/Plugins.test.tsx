import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace, type Schemas } from "../api/client";
import { WorkspaceProvider, type Me } from "../session/workspace";
import { PluginsPage } from "./Plugins";

const me = (platformAdmin: boolean): Me => ({
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: platformAdmin },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role: "admin", created_at: "2026-01-01T00:00:00Z" }],
});

const plugin = (id: string, over: Partial<Schemas["PluginOut"]> = {}): Schemas["PluginOut"] => ({
  kind: "tool",
  id,
  display_name: id,
  description: "",
  distribution: "ministudio",
  version: "1.0",
  status: "loaded",
  error: "",
  available: true,
  enabled: false,
  requires_platform_admin: false,
  settings_schema: {},
  settings: {},
  manifest: {},
  ...over,
});

const ok = <T,>(data: T) => Promise.resolve({ data, response: new Response(null, { status: 200 }) });

function renderPage(platformAdmin: boolean, shellEnabled = false) {
  const plugins = [plugin("calculator", { enabled: true }), plugin("diagnostics_shell", { requires_platform_admin: true, enabled: shellEnabled })];
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/workspaces") return ok(me(platformAdmin).workspaces);
    if (path === "/console/api/plugins") return ok(plugins);
    throw new Error(`unexpected GET ${path}`);
  }) as never);
  const patch = vi.spyOn(api, "PATCH").mockImplementation((() => ok(plugins[1])) as never);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={["/plugins"]}>
        <WorkspaceProvider me={me(platformAdmin)}>
          <PluginsPage />
        </WorkspaceProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return patch;
}

const switchOf = async (id: string) => within((await screen.findByText(id, { selector: "code" })).closest("tr")!).getByRole("switch");

beforeEach(() => {
  localStorage.clear();
  document.cookie = "csrftoken=tok";
});
afterEach(() => {
  vi.restoreAllMocks();
  setCurrentWorkspace(null);
});

describe("PluginsPage: plugins that need a platform admin", () => {
  it("a workspace admin cannot switch the diagnostics shell on, and is told why", async () => {
    const patch = renderPage(false);
    const shell = await switchOf("diagnostics_shell");
    expect(shell.hasAttribute("disabled")).toBe(true);
    expect((await switchOf("calculator")).hasAttribute("disabled")).toBe(false);
    fireEvent.mouseEnter(screen.getByTestId("platform-admin-toggle"));
    await screen.findByText(/Only a platform admin can enable this plugin/);
    fireEvent.click(shell);
    expect(patch).not.toHaveBeenCalled();
  }, 15_000);

  it("a platform admin switches it on", async () => {
    const patch = renderPage(true);
    const shell = await switchOf("diagnostics_shell");
    expect(shell.hasAttribute("disabled")).toBe(false);
    fireEvent.click(shell);
    await waitFor(() => expect(patch).toHaveBeenCalledOnce());
    expect(patch.mock.calls[0]).toEqual(["/console/api/plugins/{kind}/{plugin_id}", { params: { path: { kind: "tool", plugin_id: "diagnostics_shell" } }, body: { enabled: true } }]);
  }, 15_000);

  it("a workspace admin may still switch it off", async () => {
    const patch = renderPage(false, true);
    const shell = await switchOf("diagnostics_shell");
    expect(shell.hasAttribute("disabled")).toBe(false);
    fireEvent.click(shell);
    await waitFor(() => expect(patch).toHaveBeenCalledOnce());
    expect((patch.mock.calls[0]![1] as { body: unknown }).body).toEqual({ enabled: false });
  }, 15_000);
});
