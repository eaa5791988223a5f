import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, type Schemas } from "../../api/client";
import { ModelGroupsTab } from "./ModelGroupsTab";

type Group = Schemas["GroupOut"];
type GroupMember = Group["members"][number];

const member = (over: Partial<GroupMember> = {}): GroupMember => ({
  endpoint: "qwen-plus",
  endpoint_enabled: true,
  weight: 1,
  capabilities: ["chat"],
  state: "healthy",
  cooling_down_seconds: 0,
  recent_failures: 0,
  in_flight: 0,
  last_failure: null,
  ...over,
});

const group = (over: Partial<Group> = {}): Group => ({
  id: "00000000-0000-0000-0000-0000000000a1",
  name: "chat-pool",
  display_name: "Chat pool",
  balancing: "weighted",
  cooldown_seconds: 60,
  failures_to_cool_down: 3,
  enabled: true,
  capabilities: ["chat"],
  members: [member({ weight: 3 })],
  workspaces: ["acme"],
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  ...over,
});

const endpoint = (name: string): Schemas["EndpointOut"] => ({
  id: `ep-${name}`,
  name,
  display_name: "",
  provider: "openai",
  upstream_model: name,
  capabilities: ["chat"],
  context_window: null,
  embedding_dimension: null,
  default_parameters: {},
  price_input_per_1k: "0",
  price_output_per_1k: "0",
  enabled: true,
  settings: {},
  workspaces: [],
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
});

const workspace = (slug: string, name: string): Schemas["WorkspaceOut"] => ({ id: `ws-${slug}`, slug, name, created_at: "2026-01-01T00:00:00Z" });

const ok = <T,>(data: T, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });
const fail = (status: number, code: string, message: string) =>
  Promise.resolve({ error: { code, message, request_id: "r1" }, response: new Response(null, { status }) });

function mockGets(groups: Group[]) {
  return vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/model-groups") return ok(groups);
    if (path === "/console/api/model-endpoints") return ok([endpoint("qwen-plus"), endpoint("gpt-4o-mini")]);
    if (path === "/console/api/workspaces") return ok([workspace("acme", "Acme"), workspace("beta", "Beta")]);
    throw new Error(`unexpected GET ${path}`);
  }) as never);
}

function renderTab() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={["/admin?tab=groups"]}>
        <ModelGroupsTab />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

/** Open an antd Select by its label and click the option titled `title` in the dropdown just opened. */
async function pick(label: string, title: string) {
  fireEvent.mouseDown(screen.getByLabelText(label));
  const options = await screen.findAllByTitle(title);
  fireEvent.click(options[options.length - 1]!);
}

async function fillNewGroup() {
  fireEvent.click((await screen.findAllByTestId("add-group"))[0]!);
  const drawer = await screen.findByRole("dialog");
  await within(drawer).findByLabelText("Member 1: endpoint");
  fireEvent.change(within(drawer).getByLabelText("Name"), { target: { value: "chat-pool" } });
  await pick("Balancing", "Least busy");
  await pick("Member 1: endpoint", "qwen-plus");
  fireEvent.change(within(drawer).getByLabelText("Member 1: weight"), { target: { value: "2" } });
  fireEvent.click(within(drawer).getByRole("button", { name: /Add member/ }));
  await within(drawer).findByLabelText("Member 2: endpoint");
  await pick("Member 2: endpoint", "gpt-4o-mini");
  fireEvent.change(within(drawer).getByLabelText("Member 2: weight"), { target: { value: "5" } });
  // The second member becomes the first: the order is the fallback and tie order.
  fireEvent.click(within(within(drawer).getByTestId("member-row-1")).getByRole("button", { name: "Move up" }));
  return drawer;
}

beforeEach(() => {
  localStorage.clear();
  document.cookie = "csrftoken=tok";
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("ModelGroupsTab", () => {
  it("shows each member's health, a cooling-down one with its last failure", async () => {
    mockGets([
      group({
        members: [
          member({ weight: 3 }),
          member({
            endpoint: "gpt-4o-mini",
            state: "cooling_down",
            cooling_down_seconds: 42,
            recent_failures: 3,
            last_failure: { error: "UpstreamRateLimitError", message: "429 Too Many Requests", at: "2026-01-02T10:00:00Z" },
          }),
        ],
      }),
    ]);
    renderTab();
    const healthy = await screen.findByTestId("member-chat-pool-qwen-plus");
    expect(within(healthy).getByText("healthy")).toBeTruthy();
    expect(within(healthy).getByText("weight 3")).toBeTruthy();
    const cooling = screen.getByTestId("member-chat-pool-gpt-4o-mini");
    const badge = within(cooling).getByText("cooling down 42s");
    expect(screen.getByText("Chat pool")).toBeTruthy();
    expect(screen.getByText("acme")).toBeTruthy();
    fireEvent.mouseEnter(badge.closest("span[style]")!);
    expect(await screen.findByText("429 Too Many Requests")).toBeTruthy();
    expect(screen.getByText(/Last failure: UpstreamRateLimitError/)).toBeTruthy();
  }, 15_000);

  it("explains groups when there is none, and creates one with its members in order", async () => {
    const get = mockGets([]);
    const post = vi.spyOn(api, "POST").mockImplementation((() => ok(group(), 201)) as never);
    renderTab();
    expect(await screen.findByText(/Several endpoints behind one model name/)).toBeTruthy();
    const drawer = await fillNewGroup();
    fireEvent.click(within(drawer).getByTestId("save-group"));
    await waitFor(() => expect(post).toHaveBeenCalledOnce());
    expect(post.mock.calls[0]).toEqual([
      "/console/api/model-groups",
      {
        body: {
          name: "chat-pool",
          display_name: "",
          balancing: "least_busy",
          cooldown_seconds: 60,
          failures_to_cool_down: 3,
          enabled: true,
          members: [
            { endpoint: "gpt-4o-mini", weight: 5 },
            { endpoint: "qwen-plus", weight: 2 },
          ],
        },
      },
    ]);
    // The list is asked again once the group is saved.
    await waitFor(() => expect((get.mock.calls as unknown as [string][]).filter(([p]) => p === "/console/api/model-groups").length).toBeGreaterThan(1));
  }, 30_000);

  it("shows the server's validation error in the drawer", async () => {
    mockGets([]);
    const post = vi.spyOn(api, "POST").mockImplementation((() => fail(400, "ValidationError", "members: the endpoints share no capability")) as never);
    renderTab();
    const drawer = await fillNewGroup();
    fireEvent.click(within(drawer).getByTestId("save-group"));
    await waitFor(() => expect(post).toHaveBeenCalledOnce());
    expect(await within(drawer).findByText("members: the endpoints share no capability")).toBeTruthy();
    expect(screen.getByRole("dialog")).toBe(drawer);
  }, 30_000);

  it("grants a group to a workspace", async () => {
    mockGets([group()]);
    const post = vi.spyOn(api, "POST").mockImplementation((() => ok(group({ workspaces: ["acme", "beta"] }), 201)) as never);
    renderTab();
    const row = (await screen.findByTestId("member-chat-pool-qwen-plus")).closest("tr")!;
    fireEvent.click(within(row).getByRole("button", { name: "Grant to workspace" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByText("Workspaces of chat-pool")).toBeTruthy();
    await pick("Pick a workspace", "Beta (beta)");
    expect(screen.queryByTitle("Acme (acme)")).toBeNull();
    fireEvent.click(within(dialog).getByRole("button", { name: "Grant" }));
    await waitFor(() => expect(post).toHaveBeenCalledOnce());
    expect(post.mock.calls[0]).toEqual([
      "/console/api/model-groups/{group_id}/grants",
      { params: { path: { group_id: "00000000-0000-0000-0000-0000000000a1" } }, body: { workspace: "beta" } },
    ]);
  }, 15_000);
});
