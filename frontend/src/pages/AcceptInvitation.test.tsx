import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, type Schemas } from "../api/client";
import type { Me } from "../session/workspace";
import { AcceptInvitationPage, tokenFromHash } from "./AcceptInvitation";

const TOKEN = "s3cr3t-t0ken";
const acme = { id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role: "viewer", created_at: "2026-01-01T00:00:00Z" };
const preview: Schemas["InvitationPreviewOut"] = {
  workspace: "Acme",
  email: "dora@example.com",
  role: "viewer",
  invited_by: "Alice",
  expires_at: "2026-01-09T00:00:00Z",
};
const signedIn = (email: string): Me => ({ user: { id: 7, email, name: "Dora", is_platform_admin: false }, workspaces: [acme] });

const ok = <T,>(data: T, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });
const fail = (status: number, code: string, message: string) =>
  Promise.resolve({ error: { code, message, request_id: "r1" }, response: new Response(null, { status }) });

function mockApi({ me, lookup = () => ok(preview) }: { me: Me | null; lookup?: () => Promise<unknown> }) {
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/console/api/auth/me") return me ? ok(me) : fail(401, "NotAuthenticated", "Sign in.");
    throw new Error(`unexpected GET ${path}`);
  }) as never);
  return vi.spyOn(api, "POST").mockImplementation(((path: string) => {
    if (path === "/console/api/invitations/lookup") return lookup();
    if (path === "/console/api/invitations/accept") return ok(acme);
    if (path === "/console/api/invitations/sign-up") return ok(signedIn("dora@example.com"), 201);
    if (path === "/console/api/auth/login") return ok(signedIn("dora@example.com"));
    if (path === "/console/api/auth/logout") return ok(undefined, 204);
    throw new Error(`unexpected POST ${path}`);
  }) as never);
}

function renderPage(entry = `/invitations/accept#${TOKEN}`) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[entry]}>
        <Routes>
          <Route path="/invitations/accept" element={<AcceptInvitationPage />} />
          <Route path="/models" element={<div>models page</div>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const posted = (post: ReturnType<typeof mockApi>) =>
  (post.mock.calls as unknown as [string, { body?: unknown } | undefined][]).map(([path, options]) => [path, options?.body]);

beforeEach(() => {
  localStorage.clear();
  document.cookie = "csrftoken=tok";
});
afterEach(() => vi.restoreAllMocks());

describe("tokenFromHash", () => {
  it("reads the fragment", () => {
    expect(tokenFromHash("#abc-_1")).toBe("abc-_1");
    expect(tokenFromHash("")).toBe("");
    expect(tokenFromHash("#%zz")).toBe("%zz");
  });
});

describe("AcceptInvitationPage", () => {
  it("shows what the invitation is for, and a new person creates their account and joins", async () => {
    const post = mockApi({ me: null });
    renderPage();
    await screen.findByText("Join Acme");
    expect(screen.getByText("dora@example.com")).toBeTruthy();
    expect(screen.getByText("Viewer")).toBeTruthy();
    expect(screen.getByText("Alice")).toBeTruthy();
    // Both ways are offered whoever opens the link: the page does not tell whether an account exists.
    expect(screen.getByRole("tab", { name: "I have an account" })).toBeTruthy();
    fireEvent.click(screen.getByRole("tab", { name: "Create an account" }));
    const panel = screen.getByRole("tabpanel", { name: "Create an account" });
    fireEvent.change(within(panel).getByLabelText("Your name"), { target: { value: "Dora" } });
    fireEvent.change(within(panel).getByLabelText("Choose a password"), { target: { value: "correct horse battery" } });
    fireEvent.click(within(panel).getByRole("button", { name: "Create account and join" }));
    await screen.findByText("models page");
    expect(posted(post)).toContainEqual(["/console/api/invitations/sign-up", { token: TOKEN, name: "Dora", password: "correct horse battery" }]);
    expect(posted(post)[0]).toEqual(["/console/api/invitations/lookup", { token: TOKEN }]);
    expect(localStorage.getItem("ministudio.workspace")).toBe("acme");
  }, 15_000);

  it("signs an existing account in and joins", async () => {
    const post = mockApi({ me: null });
    renderPage();
    const panel = await screen.findByRole("tabpanel", { name: "I have an account" });
    fireEvent.change(within(panel).getByLabelText("Password"), { target: { value: "pw-of-dora" } });
    fireEvent.click(within(panel).getByRole("button", { name: "Sign in and join" }));
    await screen.findByText("models page");
    expect(posted(post).slice(1)).toEqual([
      ["/console/api/auth/login", { email: "dora@example.com", password: "pw-of-dora" }],
      ["/console/api/invitations/accept", { token: TOKEN }],
    ]);
  }, 15_000);

  it("lets the invited address, signed in, join in one click", async () => {
    const post = mockApi({ me: signedIn("dora@example.com") });
    renderPage();
    fireEvent.click(await screen.findByRole("button", { name: "Join Acme" }));
    await screen.findByText("models page");
    expect(posted(post)).toContainEqual(["/console/api/invitations/accept", { token: TOKEN }]);
    expect(localStorage.getItem("ministudio.workspace")).toBe("acme");
  }, 15_000);

  it("tells someone signed in as another address to sign out first", async () => {
    const post = mockApi({ me: signedIn("bob@example.com") });
    renderPage();
    const warning = await screen.findByTestId("invitation-other-user");
    expect(warning.textContent).toContain("You are signed in as bob@example.com, but this invitation is for dora@example.com");
    expect(screen.queryByRole("button", { name: "Join Acme" })).toBeNull();
    fireEvent.click(within(warning).getByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(posted(post)).toContainEqual(["/console/api/auth/logout", undefined]));
    await screen.findByRole("tab", { name: "I have an account" });
  }, 15_000);

  it("says why an expired, used or revoked link cannot be used", async () => {
    mockApi({ me: null, lookup: () => fail(410, "InvitationExpired", "This invitation has expired; ask a workspace admin to invite you again.") });
    renderPage();
    await screen.findByText("This invitation cannot be used");
    expect(screen.getByText(/This invitation has expired/)).toBeTruthy();
    expect(screen.getByText(/InvitationExpired/)).toBeTruthy();
    expect(screen.queryByRole("tab", { name: "Create an account" })).toBeNull();
  }, 15_000);

  it("explains a link without its token", async () => {
    const post = mockApi({ me: null });
    renderPage("/invitations/accept");
    await screen.findByText("This link is incomplete");
    expect(post).not.toHaveBeenCalled();
  }, 15_000);
});
