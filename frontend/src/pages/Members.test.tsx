import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace, type Schemas } from "../api/client";
import { WorkspaceProvider, type Me } from "../session/workspace";
import { MembersPage } from "./Members";

const me = (role: string): Me => ({
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role, created_at: "2026-01-01T00:00:00Z" }],
});

const member: Schemas["MemberOut"] = {
  id: "m-1",
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  role: "admin",
  created_at: "2026-01-01T00:00:00Z",
};

const invitation = (over: Partial<Schemas["InvitationOut"]> = {}): Schemas["InvitationOut"] => ({
  id: "inv-1",
  email: "dora@example.com",
  role: "viewer",
  status: "pending",
  invited_by: "alice@example.com",
  sent_at: "2026-01-02T00:00:00Z",
  expires_at: "2026-01-09T00:00:00Z",
  ...over,
});

const ok = <T,>(data: T, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });

function mockGets(role: string, invitations: Schemas["InvitationOut"][] = []) {
  return vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/workspaces") return ok(me(role).workspaces);
    if (path === "/console/api/members") return ok([member]);
    if (path === "/console/api/invitations") return ok(invitations);
    throw new Error(`unexpected GET ${path}`);
  }) as never);
}

function renderPage(role = "admin") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <WorkspaceProvider me={me(role)}>
        <MembersPage />
      </WorkspaceProvider>
    </QueryClientProvider>,
  );
}

async function inviteDora() {
  fireEvent.click(await screen.findByRole("button", { name: /Invite member/ }));
  const dialog = await screen.findByRole("dialog");
  fireEvent.change(within(dialog).getByLabelText("E-mail"), { target: { value: "dora@example.com" } });
  fireEvent.click(within(dialog).getByRole("button", { name: "Invite" }));
}

beforeEach(() => {
  localStorage.clear();
  document.cookie = "csrftoken=tok";
});
afterEach(() => {
  vi.restoreAllMocks();
  setCurrentWorkspace(null);
});

describe("MembersPage", () => {
  it("invites by e-mail and role, then shows the link to copy once", async () => {
    mockGets("admin");
    const link = "http://studio.test/invitations/accept#secret-token";
    const post = vi.spyOn(api, "POST").mockImplementation((() => ok({ ...invitation({ role: "developer" }), email_sent: false, accept_url: link }, 201)) as never);
    renderPage();
    await inviteDora();
    await waitFor(() => expect(post).toHaveBeenCalledOnce());
    expect(post.mock.calls[0]).toEqual(["/console/api/invitations", { body: { email: "dora@example.com", role: "developer" } }]);
    const shown = (await screen.findByTestId("invitation-link")) as HTMLInputElement;
    expect(shown.value).toBe(link);
    expect(screen.getByText(/It is shown only now/)).toBeTruthy();
    expect(screen.getByRole("button", { name: /Copy/ })).toBeTruthy();
  }, 15_000);

  it("says the link was e-mailed when the platform sent it", async () => {
    mockGets("admin");
    vi.spyOn(api, "POST").mockImplementation((() => ok({ ...invitation(), email_sent: true, accept_url: null }, 201)) as never);
    renderPage();
    await inviteDora();
    await screen.findByText("The link was e-mailed to dora@example.com.");
    expect(screen.queryByTestId("invitation-link")).toBeNull();
  }, 15_000);

  it("lists pending invitations and revokes one after asking", async () => {
    mockGets("admin", [invitation(), invitation({ id: "inv-2", email: "eve@example.com", status: "expired" })]);
    const post = vi.spyOn(api, "POST").mockImplementation((() => ok(invitation({ status: "revoked" }))) as never);
    renderPage();
    const row = (await screen.findByText("dora@example.com")).closest("tr")!;
    expect(within(row).getByText("Pending")).toBeTruthy();
    expect(within(row).getByText("Viewer")).toBeTruthy();
    expect(within(screen.getByText("eve@example.com").closest("tr")!).getByText("Expired")).toBeTruthy();
    fireEvent.click(within(row).getByRole("button", { name: "Revoke" }));
    expect(post).not.toHaveBeenCalled();
    const confirm = await screen.findByText(/Revoke the invitation of dora@example.com/);
    fireEvent.click(within(confirm.closest(".ant-popover")! as HTMLElement).getByRole("button", { name: /OK/ }));
    await waitFor(() => expect(post).toHaveBeenCalledOnce());
    expect(post.mock.calls[0]).toEqual(["/console/api/invitations/{invitation_id}/revoke", { params: { path: { invitation_id: "inv-1" } } }]);
  }, 15_000);

  it("shows no invitations and no invite button to those who cannot manage members", async () => {
    const get = mockGets("developer");
    renderPage("developer");
    await screen.findByText("alice@example.com");
    expect(screen.queryByRole("button", { name: /Invite member/ })).toBeNull();
    expect(screen.queryByText("Pending invitations")).toBeNull();
    expect((get.mock.calls as unknown as [string][]).map(([path]) => path)).not.toContain("/console/api/invitations");
  }, 15_000);
});
