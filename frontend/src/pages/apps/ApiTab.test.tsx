import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace } from "../../api/client";
import { WorkspaceProvider, type Me, type Role } from "../../session/workspace";
import { ApiTab, appToolName, mcpSnippets } from "./ApiTab";
import type { App } from "./model";

const ID = "3f2a9c1e-7b4d-4e2a-9f00-123456789abc";

const app = (name: string): App => ({
  id: ID,
  kind: "agent",
  name,
  description: "",
  draft: {},
  published_version: 2,
  version_count: 2,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
});

const me = (role: Role): Me => ({
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role, created_at: "2026-01-01T00:00:00Z" }],
});

const ok = <T,>(data: T) => Promise.resolve({ data, response: new Response(null, { status: 200 }) });

function renderTab(role: Role, enabled: boolean) {
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/workspaces") return ok(me(role).workspaces);
    if (path === "/console/api/mcp-serving") return ok({ enabled, path: "/mcp" });
    throw new Error(`unexpected GET ${path}`);
  }) as never);
  const patch = vi.spyOn(api, "PATCH").mockImplementation(((_path: string, init: { body: { enabled: boolean } }) => ok({ enabled: init.body.enabled, path: "/mcp" })) as never);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <WorkspaceProvider me={me(role)}>
          <ApiTab app={app("Research helper")} />
        </WorkspaceProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return patch;
}

beforeEach(() => {
  localStorage.clear();
  document.cookie = "csrftoken=tok";
});
afterEach(() => {
  vi.restoreAllMocks();
  setCurrentWorkspace(null);
});

describe("appToolName (as the backend's app_tools.tool_name)", () => {
  it("slugs the name", () => {
    expect(appToolName(app("Research helper"))).toBe("research_helper");
    expect(appToolName(app("  FAQ -- Bot (v2)! "))).toBe("faq_bot_v2");
    expect(appToolName(app("__x__"))).toBe("x");
  });

  it("cuts at 56 characters after trimming", () => {
    expect(appToolName(app(`_${"a".repeat(70)}`))).toBe("a".repeat(56));
    expect(appToolName(app(`${"a".repeat(55)} b`))).toBe(`${"a".repeat(55)}_`);
  });

  it("falls back to app_<first 8 hex of the id> when nothing is left", () => {
    expect(appToolName(app("客服助手"))).toBe("app_3f2a9c1e");
    expect(appToolName(app("!!!"))).toBe("app_3f2a9c1e");
  });
});

describe("mcpSnippets", () => {
  it("puts the URL, the API key header and the tool name in", () => {
    const code = mcpSnippets("https://studio.example.com/mcp", "research_helper");
    expect(JSON.parse(code.client)).toEqual({
      mcpServers: { ministudio: { url: "https://studio.example.com/mcp", headers: { Authorization: "Bearer <your API key>" } } },
    });
    expect(code.python).toContain("streamablehttp_client(\n        \"https://studio.example.com/mcp\"");
    expect(code.python).toContain('session.call_tool("research_helper", {"prompt": ');
    expect(code.python).toContain("await session.list_tools()");
  });
});

describe("ApiTab: Use over MCP", () => {
  it("says when MCP serving is off, and shows the endpoint and tool name", async () => {
    renderTab("developer", false);
    expect((await screen.findByTestId("mcp-off")).textContent).toContain("MCP serving is off for this workspace");
    expect((screen.getByTestId("mcp-url") as HTMLInputElement).value).toBe(`${window.location.origin}/mcp`);
    expect(screen.getByTestId("mcp-tool-name").textContent).toBe("research_helper");
    expect(screen.queryByTestId("mcp-serving-switch")).toBeNull();
  }, 15_000);

  it("no alert when it is on", async () => {
    renderTab("developer", true);
    await within(await screen.findByTestId("mcp-section")).findByText("On");
    expect(screen.queryByTestId("mcp-off")).toBeNull();
  }, 15_000);

  it("a workspace admin switches it on", async () => {
    const patch = renderTab("admin", false);
    const toggle = await screen.findByTestId("mcp-serving-switch");
    fireEvent.click(toggle);
    await waitFor(() => expect(patch).toHaveBeenCalledOnce());
    expect(patch.mock.calls[0]).toEqual(["/console/api/mcp-serving", { body: { enabled: true } }]);
    await waitFor(() => expect(screen.queryByTestId("mcp-off")).toBeNull());
  }, 15_000);
});
