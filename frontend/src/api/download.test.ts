import { afterEach, describe, expect, it, vi } from "vitest";
import { filenameFromDisposition, saveBlob } from "./download";

afterEach(() => vi.restoreAllMocks());

describe("filenameFromDisposition", () => {
  it("reads Django's plain and RFC 5987 file names", () => {
    expect(filenameFromDisposition('attachment; filename="batch_1_output.jsonl"', "x")).toBe("batch_1_output.jsonl");
    expect(filenameFromDisposition("attachment; filename=in.jsonl", "x")).toBe("in.jsonl");
    expect(filenameFromDisposition("attachment; filename*=utf-8''%E8%BE%93%E5%85%A5.jsonl", "x")).toBe("输入.jsonl");
    expect(filenameFromDisposition(`attachment; filename="a.jsonl"; filename*=utf-8''b%20c.jsonl`, "x")).toBe("b c.jsonl");
  });

  it("falls back without a usable header", () => {
    expect(filenameFromDisposition(null, "file-1.jsonl")).toBe("file-1.jsonl");
    expect(filenameFromDisposition("attachment", "file-1.jsonl")).toBe("file-1.jsonl");
    expect(filenameFromDisposition('attachment; filename=""', "file-1.jsonl")).toBe("file-1.jsonl");
  });
});

describe("saveBlob", () => {
  it("clicks a download link to an object URL", () => {
    const create = vi.fn(() => "blob:test/1");
    Object.assign(URL, { createObjectURL: create, revokeObjectURL: vi.fn() });
    const clicked: { href: string; download: string }[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push({ href: this.href, download: this.download });
    });
    saveBlob(new Blob(["{}\n"]), "out.jsonl");
    expect(create).toHaveBeenCalledOnce();
    expect(clicked).toEqual([{ href: "blob:test/1", download: "out.jsonl" }]);
    expect(document.querySelector("a[download]")).toBeNull();
  });
});
