import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, setCurrentWorkspace } from "../api/client";
import { WorkspaceProvider, type Me } from "../session/workspace";
import { BatchesPage, POLL_MS } from "./Batches";
import type { Batch, BatchFile } from "./batches/model";
import { batch } from "./batches/testBatch";
import { FakeXhr } from "../test/fakeXhr";

const me = (role: string): Me => ({
  user: { id: 1, email: "dev@example.com", name: "Dev", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Demo", slug: "demo", role, created_at: "2026-01-01T00:00:00Z" }],
});

const ok = <T,>(data: T, status = 200) => Promise.resolve({ data, response: new Response(null, { status }) });

/** Answers GETs by path: `batches` is read once per call (a queue of lists, the last repeated). */
function mockApi(lists: Batch[][]) {
  const reads: string[] = [];
  const get = vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    reads.push(path);
    if (path === "/console/api/workspaces") return ok(me("developer").workspaces);
    if (path === "/console/api/models") return ok([{ name: "qwen-plus", capabilities: ["chat"], is_default: true }]);
    if (path === "/console/api/batches") return ok(lists.length > 1 ? lists.shift()! : lists[0]!);
    throw new Error(`unexpected GET ${path}`);
  }) as never);
  return { get, batchReads: () => reads.filter((p) => p === "/console/api/batches").length };
}

function renderPage(role = "developer") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <WorkspaceProvider me={me(role)}>
        <BatchesPage />
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
  vi.unstubAllGlobals();
  setCurrentWorkspace(null);
});

describe("BatchesPage", () => {
  it("explains batches when there are none", async () => {
    mockApi([[]]);
    renderPage();
    await screen.findByText("No batch yet.");
    expect(screen.getByText(/client\.batches\.create\(/)).toBeTruthy();
    expect(screen.getByText(/\/compatible-mode\/v1/, { selector: "p" })).toBeTruthy();
    expect(screen.getAllByRole("button", { name: /New batch/ }).length).toBeGreaterThan(0);
  });

  it("polls while a batch is unfinished and stops once none is", async () => {
    const { batchReads } = mockApi([[batch("in_progress", [4, 1, 1])], [batch("completed", [4, 3, 1], { output_file_id: "file-out" })]]);
    renderPage();
    const status = await screen.findByTestId("batch-status");
    expect(status.textContent).toBe("In progress");
    expect(screen.getByTestId("batch-id").textContent).toContain("batch_abc");
    expect(screen.getByText("2 / 4")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Cancel" })).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId("batch-status").textContent).toBe("Completed"), { timeout: POLL_MS * 3 });
    expect(screen.getByText("4 / 4")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    const reads = batchReads();
    await act(() => new Promise((resolve) => setTimeout(resolve, POLL_MS + 500)));
    expect(batchReads()).toBe(reads);
  }, 15_000);

  it("cancels an unfinished batch after asking", async () => {
    mockApi([[batch("in_progress", [4, 1, 0])]]);
    const post = vi.spyOn(api, "POST").mockImplementation((() => ok(batch("cancelling", [4, 1, 0]))) as never);
    renderPage();
    fireEvent.click(await screen.findByRole("button", { name: "Cancel" }));
    expect(post).not.toHaveBeenCalled();
    fireEvent.click(await screen.findByRole("button", { name: "Cancel batch" }));
    await waitFor(() => expect(post).toHaveBeenCalledOnce());
    expect(post.mock.calls[0]).toEqual(["/console/api/batches/{batch_id}/cancel", { params: { path: { batch_id: "batch_abc" } } }]);
  }, 15_000);

  it("uploads a file, shows its lines and size, and creates the batch", async () => {
    mockApi([[]]);
    const stored: BatchFile = { id: "file-1", object: "file", bytes: 2048, created_at: 1, filename: "requests.jsonl", purpose: "batch", status: "processed", line_count: 3 };
    FakeXhr.reply = { status: 201, body: JSON.stringify(stored) };
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const post = vi.spyOn(api, "POST").mockImplementation((() => ok(batch("validating", [3, 0, 0], { id: "batch_new" }), 201)) as never);
    renderPage();
    fireEvent.click((await screen.findAllByRole("button", { name: /New batch/ }))[0]!);
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByTestId("batch-example").textContent).toContain('"model":"qwen-plus"');
    const input = dialog.querySelector('input[type="file"]') as HTMLInputElement;
    fireEvent.change(input, { target: { files: [new File(['{"custom_id":"1"}\n'], "requests.jsonl")] } });
    await waitFor(() => expect(within(dialog).getByTestId("batch-file-summary").textContent).toBe("3 requests · 2.0 KB"));
    expect((FakeXhr.last.body?.get("file") as File).name).toBe("requests.jsonl");
    expect(FakeXhr.last.body?.get("purpose")).toBe("batch");
    fireEvent.click(within(dialog).getByRole("button", { name: /Create/ }));
    await waitFor(() => expect(post).toHaveBeenCalled());
    const [path, options] = post.mock.calls[0] as unknown as [string, { body: unknown }];
    expect(path).toBe("/console/api/batches");
    expect(options.body).toEqual({ input_file_id: "file-1", endpoint: "/v1/chat/completions", completion_window: "24h", metadata: null });
  }, 15_000);

  it("reports the server's refusal of an upload", async () => {
    mockApi([[]]);
    FakeXhr.reply = {
      status: 400,
      body: JSON.stringify({ code: "too_many_lines", message: "'big.jsonl' has more than 50,000 requests (line 50001); split it into several batches." }),
    };
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    renderPage();
    fireEvent.click((await screen.findAllByRole("button", { name: /New batch/ }))[0]!);
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(dialog.querySelector('input[type="file"]') as HTMLInputElement, { target: { files: [new File(["x"], "big.jsonl")] } });
    const error = await within(dialog).findByTestId("batch-upload-error");
    expect(error.textContent).toContain("has more than 50,000 requests");
  }, 15_000);
});
