import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace, type Schemas } from "../api/client";
import { needsRawArguments } from "../components/ToolRunner";
import { WorkspaceProvider, type Me, type Role } from "../session/workspace";
import { serverBody } from "./McpServers";
import { PluginsPage } from "./Plugins";

type Server = Schemas["McpServerOut"];
type Tool = Schemas["McpToolOut"];

const me = (role: Role): Me => ({
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role, created_at: "2026-01-01T00:00:00Z" }],
});

const tool = (id: string, name: string, over: Partial<Tool> = {}): Tool => ({
  id,
  name,
  description: `${name} things`,
  input_schema: { type: "object", properties: {} },
  enabled: true,
  function_name: `github__${name}`,
  ...over,
});

const server = (id: string, name: string, over: Partial<Server> = {}): Server => ({
  id,
  name,
  transport: "streamable_http",
  url: `https://${name}.example.com/mcp`,
  command: null,
  headers: {},
  has_bearer_token: false,
  timeout_seconds: 30,
  tools: [],
  tools_refreshed_at: "2026-12-01T10:00:00Z",
  last_error: null,
  server_info: { name: `${name}-mcp`, version: "1.2.0" },
  created_at: "2026-12-01T10:00:00Z",
  updated_at: "2026-12-01T10:00:00Z",
  ...over,
});

const SEARCH_SCHEMA = {
  type: "object",
  properties: {
    query: { type: "string", description: "What to look for" },
    limit: { type: "integer", minimum: 1 },
    include_forks: { type: "boolean" },
    sort: { type: "string", enum: ["stars", "updated"], default: "stars" },
    filters: { type: "object" },
  },
  required: ["query"],
};

const github = server("s1", "github", {
  tools: [
    tool("t1", "search_repos", { input_schema: SEARCH_SCHEMA }),
    tool("t2", "delete_repo", { enabled: false }),
  ],
});
const broken = server("s2", "broken", {
  transport: "stdio",
  url: null,
  command: "mcp-server-fetch",
  tools_refreshed_at: null,
  server_info: null,
  last_error: { code: "McpConnectFailed", message: "Connection refused" } as Server["last_error"],
});

const ok = <T,>(data: T, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });

function renderTab(role: Role = "admin", servers: Server[] = [github, broken]) {
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/workspaces") return ok(me(role).workspaces);
    if (path === "/console/api/mcp-servers") return ok(servers);
    if (path === "/console/api/mcp-servers/stdio-commands") return ok([]);
    throw new Error(`unexpected GET ${path}`);
  }) as never);
  const post = vi.spyOn(api, "POST").mockImplementation(((path: string) => {
    if (path === "/console/api/mcp-servers") return ok(server("s3", "linear", { tools: [tool("t9", "list_issues")] }), 201);
    if (path.endsWith("/invoke")) return ok({ tool: "search_repos", duration_ms: 42, content: "3 repositories", data: null, is_error: false });
    if (path.endsWith("/test")) return ok({ ok: true, server_name: "github-mcp", server_version: "1.2.0", tool_count: 2, duration_ms: 87, error: null });
    throw new Error(`unexpected POST ${path}`);
  }) as never);
  const patch = vi.spyOn(api, "PATCH").mockImplementation((() => ok({ ...github.tools[1]!, enabled: true })) as never);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={["/plugins/mcp-servers"]}>
        <WorkspaceProvider me={me(role)}>
          <PluginsPage />
        </WorkspaceProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return { post, patch };
}

const rowOf = async (name: string) => (await screen.findByText(name, { selector: "strong" })).closest("tr")!;

async function expand(name: string) {
  const row = await rowOf(name);
  fireEvent.click(within(row).getByRole("button", { name: /expand/i }));
  return screen.findByTestId(`mcp-tools-${name}`);
}

beforeEach(() => {
  localStorage.clear();
  document.cookie = "csrftoken=tok";
});
afterEach(() => {
  vi.restoreAllMocks();
  setCurrentWorkspace(null);
});

describe("MCP servers tab", () => {
  it("lists the servers: transport, URL or command, tools, last error", async () => {
    renderTab();
    const row = await rowOf("github");
    expect(within(row).getByText("Streamable HTTP")).toBeTruthy();
    expect(within(row).getByText("https://github.example.com/mcp")).toBeTruthy();
    expect(within(row).getByText("1 of 2 enabled")).toBeTruthy();
    expect(within(row).getByText("Connected")).toBeTruthy();
    expect(within(row).getByText("github-mcp 1.2.0")).toBeTruthy();
    const bad = await rowOf("broken");
    expect(within(bad).getByText("mcp-server-fetch")).toBeTruthy();
    expect(within(bad).getByTestId("mcp-last-error").textContent).toBe("McpConnectFailed");
  }, 15_000);

  it("adds a server: posts URL, headers and bearer token", async () => {
    const { post } = renderTab();
    fireEvent.click((await screen.findAllByRole("button", { name: /Add MCP server/ }))[0]!);
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Name"), { target: { value: "linear" } });
    fireEvent.change(within(dialog).getByLabelText("URL"), { target: { value: "https://mcp.linear.app/mcp" } });
    fireEvent.click(within(dialog).getByRole("button", { name: /Add header/ }));
    fireEvent.change(await within(dialog).findByLabelText("Header name"), { target: { value: "X-Team" } });
    fireEvent.change(within(dialog).getByLabelText("Value"), { target: { value: "core" } });
    fireEvent.change(within(dialog).getByTestId("mcp-token"), { target: { value: "lin_secret" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Create" }));
    await waitFor(() => expect(post).toHaveBeenCalledOnce());
    expect(post.mock.calls[0]).toEqual([
      "/console/api/mcp-servers",
      {
        body: {
          name: "linear",
          transport: "streamable_http",
          url: "https://mcp.linear.app/mcp",
          headers: { "X-Team": "core" },
          bearer_token: "lin_secret",
          timeout_seconds: 30,
        },
      },
    ]);
  }, 20_000);

  it("switches a tool on with PATCH", async () => {
    const { patch } = renderTab();
    const tools = await expand("github");
    const toggle = within(tools).getByRole("switch", { name: "Enable delete_repo" });
    expect(toggle.getAttribute("aria-checked")).toBe("false");
    fireEvent.click(toggle);
    await waitFor(() => expect(patch).toHaveBeenCalledOnce());
    expect(patch.mock.calls[0]).toEqual([
      "/console/api/mcp-servers/{server_id}/tools/{tool_id}",
      { params: { path: { server_id: "s1", tool_id: "t2" } }, body: { enabled: true } },
    ]);
    expect(within(tools).getByText("github__delete_repo")).toBeTruthy();
  }, 15_000);

  it("test-runs a tool with a form made from its schema, posting typed arguments", async () => {
    const { post } = renderTab();
    const tools = await expand("github");
    fireEvent.click(within(tools).getByRole("button", { name: "Test-run search_repos" }));
    const drawer = await screen.findByRole("dialog");
    fireEvent.change(within(drawer).getByLabelText("Query"), { target: { value: "mcp" } });
    fireEvent.change(within(drawer).getByLabelText("Limit"), { target: { value: "5" } });
    fireEvent.click(within(drawer).getByRole("switch"));
    fireEvent.change(within(drawer).getByLabelText("Filters"), { target: { value: '{"language": "python"}' } });
    fireEvent.click(within(drawer).getByTestId("run-tool"));
    await waitFor(() => expect(post).toHaveBeenCalledOnce());
    expect(post.mock.calls[0]).toEqual([
      "/console/api/mcp-servers/{server_id}/tools/{tool_id}/invoke",
      {
        params: { path: { server_id: "s1", tool_id: "t1" } },
        body: { arguments: { query: "mcp", limit: 5, include_forks: true, sort: "stars", filters: { language: "python" } } },
      },
    ]);
    expect((await within(drawer).findByTestId("tool-result")).textContent).toBe("3 repositories");
    expect(within(drawer).getByText("Returned in 42 ms")).toBeTruthy();
  }, 20_000);

  it("tests the connection and shows the server it reached", async () => {
    const { post } = renderTab();
    fireEvent.click(within(await rowOf("github")).getByRole("button", { name: "Test connection" }));
    const result = await screen.findByTestId("mcp-test-result");
    expect(post.mock.calls[0]![0]).toBe("/console/api/mcp-servers/{server_id}/test");
    expect(result.textContent).toContain("Connected in 87 ms");
    expect(result.textContent).toContain("github-mcp");
  }, 15_000);

  it("is read-only for viewers", async () => {
    renderTab("viewer");
    const tools = await expand("github");
    expect(screen.queryByRole("button", { name: /Add MCP server/ })).toBeNull();
    expect(within(tools).getByRole("switch", { name: "Enable delete_repo" }).hasAttribute("disabled")).toBe(true);
    expect(within(tools).queryByRole("button", { name: /Test-run/ })).toBeNull();
    expect(screen.queryByRole("button", { name: "Test connection" })).toBeNull();
  }, 15_000);
});

describe("serverBody", () => {
  const values = { name: "gh", transport: "streamable_http" as const, url: "https://x/mcp", headers: [{ name: "X-Key", value: "***" }], timeout_seconds: 20 };

  it("editing: keeps a *** header and an untouched token", () => {
    expect(serverBody(values, { has_bearer_token: true })).toEqual({
      name: "gh",
      transport: "streamable_http",
      url: "https://x/mcp",
      command: null,
      headers: { "X-Key": "***" },
      timeout_seconds: 20,
    });
  });

  it("editing: a change to stdio clears the URL and headers", () => {
    expect(serverBody({ ...values, transport: "stdio", command: "mcp-server-fetch" }, { has_bearer_token: false })).toEqual({
      name: "gh",
      transport: "stdio",
      command: "mcp-server-fetch",
      url: null,
      headers: {},
      timeout_seconds: 20,
    });
  });

  it("editing: removing the token sends an empty one; a new one replaces it", () => {
    expect(serverBody({ ...values, remove_token: true, bearer_token: "x" }, { has_bearer_token: true }).bearer_token).toBe("");
    expect(serverBody({ ...values, bearer_token: "new" }, { has_bearer_token: true }).bearer_token).toBe("new");
  });

  it("stdio: the command, no URL, headers or token", () => {
    expect(serverBody({ name: "fetch", transport: "stdio", command: "mcp-server-fetch", url: "https://x", headers: [{ name: "A", value: "b" }], bearer_token: "t" }, null)).toEqual({
      name: "fetch",
      transport: "stdio",
      command: "mcp-server-fetch",
      headers: {},
      timeout_seconds: 30,
    });
  });
});

describe("needsRawArguments", () => {
  it("is false for schemas the form renders, true for ones it cannot", () => {
    expect(needsRawArguments(SEARCH_SCHEMA)).toBe(false);
    expect(needsRawArguments({ type: "object", properties: {} })).toBe(false);
    expect(needsRawArguments({})).toBe(false);
    expect(needsRawArguments({ type: "object", additionalProperties: { type: "string" } })).toBe(true);
    expect(needsRawArguments({ anyOf: [{ type: "object", properties: { a: { type: "string" } } }, { type: "object", properties: { b: { type: "string" } } }] })).toBe(true);
  });
});
