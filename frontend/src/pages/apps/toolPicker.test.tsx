// The tool pickers (the agent app's Configure tab, the workflow tool node) offer enabled MCP
// tools grouped by server, as `mcp:<tool id>`.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, renderHook, screen, waitFor, within } from "@testing-library/react";
import { useState, type ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace, type Schemas } from "../../api/client";
import { WorkspaceProvider, type Me } from "../../session/workspace";
import { useWorkspaceChoices } from "../workflows/useEditorChoices";
import { ConfigureTab } from "./Configure";
import { mcpToolGroups, type App } from "./model";

type Server = Schemas["McpServerOut"];

const me: Me = {
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role: "developer", created_at: "2026-01-01T00:00:00Z" }],
};

const mcpTool = (id: string, name: string, enabled = true): Schemas["McpToolOut"] => ({
  id,
  name,
  description: `Does ${name}`,
  input_schema: { type: "object", properties: {} },
  enabled,
  function_name: `x__${name}`,
});

const server = (id: string, name: string, tools: Schemas["McpToolOut"][]): Server => ({
  id,
  name,
  transport: "streamable_http",
  url: "https://example.com/mcp",
  command: null,
  headers: {},
  has_bearer_token: false,
  timeout_seconds: 30,
  tools,
  tools_refreshed_at: null,
  last_error: null,
  server_info: null,
  created_at: "2026-12-01T10:00:00Z",
  updated_at: "2026-12-01T10:00:00Z",
});

const servers = [
  server("s1", "github", [mcpTool("t1", "search_repos"), mcpTool("t2", "delete_repo", false)]),
  server("s2", "linear", [mcpTool("t3", "list_issues")]),
  server("s3", "dormant", [mcpTool("t4", "sleep", false)]),
];

const app: App = {
  id: "a1",
  kind: "agent",
  name: "Helper",
  description: "",
  draft: { model: "qwen", tools: [{ type: "mcp", id: "t3" }] },
  published_version: null,
  version_count: 0,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};

const ok = <T,>(data: T) => Promise.resolve({ data, response: new Response(null, { status: 200 }) });

function mockApi() {
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/workspaces") return ok(me.workspaces);
    if (path === "/console/api/mcp-servers") return ok(servers);
    if (["/console/api/models", "/console/api/knowledge-bases", "/console/api/tools", "/console/api/http-tools", "/console/api/apps"].includes(path)) return ok([]);
    throw new Error(`unexpected GET ${path}`);
  }) as never);
  return vi.spyOn(api, "PUT").mockImplementation(((_path: string, init: { body: unknown }) => ok({ ...app, draft: init.body })) as never);
}

function Providers({ children }: { children: ReactNode }) {
  const [client] = useState(() => new QueryClient({ defaultOptions: { queries: { retry: false } } }));
  return (
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <WorkspaceProvider me={me}>{children}</WorkspaceProvider>
      </MemoryRouter>
    </QueryClientProvider>
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

describe("mcpToolGroups", () => {
  it("groups enabled tools by server and leaves out disabled ones (and servers with none)", () => {
    expect(mcpToolGroups(servers)).toEqual([
      { label: "MCP · github", options: [{ value: "mcp:t1", label: "search_repos · Does search_repos", title: "Does search_repos" }] },
      { label: "MCP · linear", options: [{ value: "mcp:t3", label: "list_issues · Does list_issues", title: "Does list_issues" }] },
    ]);
    expect(mcpToolGroups(undefined)).toEqual([]);
  });
});

describe("agent app tool picker", () => {
  it("offers MCP tools grouped by server and saves them as {type: mcp, id}", async () => {
    const put = mockApi();
    render(
      <Providers>
        <ConfigureTab app={app} onDirtyChange={() => {}} />
      </Providers>,
    );
    const picker = await screen.findByTestId("app-tools");
    // The draft's MCP tool shows by its label once the servers are loaded.
    await within(picker).findByText("list_issues · Does list_issues");
    fireEvent.mouseDown(within(picker).getByRole("combobox"));
    await screen.findByText("MCP · github");
    expect(screen.getByText("MCP · linear")).toBeTruthy();
    expect(screen.queryByText("MCP · dormant")).toBeNull();
    expect(screen.queryByText(/delete_repo/)).toBeNull();
    fireEvent.click(screen.getByText("search_repos · Does search_repos"));
    fireEvent.click(screen.getByTestId("save-draft"));
    await waitFor(() => expect(put).toHaveBeenCalledOnce());
    expect((put.mock.calls[0]![1] as { body: { tools: unknown } }).body.tools).toEqual([
      { type: "mcp", id: "t3" },
      { type: "mcp", id: "t1" },
    ]);
  }, 20_000);
});

describe("workflow tool node picker", () => {
  it("has one MCP group per server with enabled tools", async () => {
    mockApi();
    const { result } = renderHook(() => useWorkspaceChoices("a1"), { wrapper: Providers });
    await waitFor(() => expect(result.current.choices.tools.some((g) => g.label.startsWith("MCP"))).toBe(true));
    const mcp = result.current.choices.tools.filter((g) => g.label.startsWith("MCP · "));
    expect(mcp.map((g) => [g.label, g.options.map((o) => o.value)])).toEqual([
      ["MCP · github", ["mcp:t1"]],
      ["MCP · linear", ["mcp:t3"]],
    ]);
  });
});
