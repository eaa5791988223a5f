import { afterEach, describe, expect, it, vi } from "vitest";
import { setCurrentWorkspace } from "./client";
import { ApiError } from "./errors";
import { uploadFiles } from "./upload";
import { FakeXhr } from "../test/fakeXhr";

afterEach(() => {
  vi.unstubAllGlobals();
  setCurrentWorkspace(null);
});

describe("uploadFiles", () => {
  it("sends repeated files with the fields and headers, reporting progress", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    document.cookie = "csrftoken=tok";
    setCurrentWorkspace("demo");
    FakeXhr.reply = { status: 202, body: JSON.stringify({ documents: [{ name: "a.txt", duplicate: false }] }) };
    const progress: number[] = [];
    const files = [new File(["a"], "a.txt"), new File(["b"], "b.md")];
    const result = await uploadFiles<{ documents: unknown[] }>("/console/api/knowledge-bases/k/documents", files, {
      fields: { tags: "hr,2026", metadata: '{"dept": "HR"}' },
      onProgress: (p) => progress.push(p),
    });
    expect(result.documents).toHaveLength(1);
    expect(progress).toEqual([25, 100, 100]);
    const xhr = FakeXhr.last;
    expect([xhr.method, xhr.url, xhr.withCredentials]).toEqual(["POST", "/console/api/knowledge-bases/k/documents", true]);
    expect(xhr.headers).toEqual({ "X-Workspace": "demo", "X-CSRFToken": "tok" });
    expect(xhr.body?.getAll("files").map((f) => (f as File).name)).toEqual(["a.txt", "b.md"]);
    expect(xhr.body?.get("tags")).toBe("hr,2026");
  });

  it("sends the file in another field when asked (batch input files go in `file`)", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    document.cookie = "csrftoken=tok";
    FakeXhr.reply = { status: 201, body: JSON.stringify({ id: "file-1", line_count: 2 }) };
    const result = await uploadFiles<{ id: string }>("/console/api/batch-files", [new File(["{}\n{}\n"], "in.jsonl")], {
      field: "file",
      fields: { purpose: "batch" },
    });
    expect(result.id).toBe("file-1");
    expect(FakeXhr.last.body?.getAll("files")).toEqual([]);
    expect((FakeXhr.last.body?.get("file") as File).name).toBe("in.jsonl");
    expect(FakeXhr.last.body?.get("purpose")).toBe("batch");
  });

  it("sends the parser chosen for these files as the `parser` form field", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    document.cookie = "csrftoken=tok";
    FakeXhr.reply = { status: 202, body: JSON.stringify({ documents: [{ name: "scan.pdf", duplicate: false }] }) };
    await uploadFiles("/console/api/knowledge-bases/k/documents", [new File(["%PDF"], "scan.pdf")], {
      fields: { tags: "", metadata: "", parser: "ocr" },
    });
    expect(FakeXhr.last.body?.get("parser")).toBe("ocr");
    expect((FakeXhr.last.body?.get("files") as File).name).toBe("scan.pdf");
  });

  it("rejects with the API's error message", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    document.cookie = "csrftoken=tok";
    FakeXhr.reply = { status: 413, body: JSON.stringify({ code: "FileTooLarge", message: "big.pdf is over 100 MB.", request_id: "x" }) };
    const upload = uploadFiles("/console/api/knowledge-bases/k/documents", [new File(["x"], "big.pdf")]);
    await expect(upload).rejects.toBeInstanceOf(ApiError);
    await expect(upload).rejects.toMatchObject({ status: 413, code: "FileTooLarge", message: "big.pdf is over 100 MB." });
  });
});
