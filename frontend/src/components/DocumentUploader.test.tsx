import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeXhr } from "../test/fakeXhr";
import { ACCEPTED_TYPES, DocumentUploader } from "./DocumentUploader";

afterEach(() => vi.unstubAllGlobals());

function choose(file: File) {
  const input = document.querySelector<HTMLInputElement>('input[type="file"]')!;
  fireEvent.change(input, { target: { files: [file] } });
}

describe("DocumentUploader", () => {
  it("lists the supported types, offers slides and images, and sends the knowledge base's parser", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    document.cookie = "csrftoken=tok";
    FakeXhr.reply = { status: 202, body: JSON.stringify({ documents: [{ name: "scan.png", duplicate: false }] }) };
    const onUploaded = vi.fn();
    render(<DocumentUploader knowledgeBaseId="k" defaultParser="ocr" onUploaded={onUploaded} />);
    expect(screen.getByText(/PowerPoint slides \(PPTX\).*images.*read by OCR \(Chinese and English\)/)).toBeTruthy();
    const input = document.querySelector<HTMLInputElement>('input[type="file"]')!;
    expect(input.getAttribute("accept")).toBe(ACCEPTED_TYPES);
    for (const type of [".pptx", ".png", ".jpg", ".tiff", ".webp", ".pdf"]) expect(ACCEPTED_TYPES.split(",")).toContain(type);
    // The knowledge base's parser is this upload's, with its help below.
    expect(screen.getByText("OCR every page")).toBeTruthy();
    expect(screen.getByText(/Reads every page by OCR/)).toBeTruthy();
    choose(new File(["png"], "scan.png", { type: "image/png" }));
    await waitFor(() => expect(onUploaded).toHaveBeenCalled());
    expect(FakeXhr.last.url).toBe("/console/api/knowledge-bases/k/documents");
    expect(FakeXhr.last.body?.get("parser")).toBe("ocr");
    expect(await screen.findByText("Uploaded")).toBeTruthy();
  });

  it("sends the parser picked for this upload", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    document.cookie = "csrftoken=tok";
    FakeXhr.reply = { status: 202, body: JSON.stringify({ documents: [{ name: "a.pdf", duplicate: false }] }) };
    const onUploaded = vi.fn();
    render(<DocumentUploader knowledgeBaseId="k" onUploaded={onUploaded} />);
    expect(screen.getByText("Automatic")).toBeTruthy();
    fireEvent.mouseDown(screen.getByRole("combobox", { name: "Parser for these files" }));
    fireEvent.click(await screen.findByText("Text layer only"));
    await waitFor(() => expect(document.getElementById("upload-parser")?.closest(".ant-select")?.textContent).toBe("Text layer only"));
    choose(new File(["%PDF"], "a.pdf", { type: "application/pdf" }));
    await waitFor(() => expect(onUploaded).toHaveBeenCalled());
    expect(FakeXhr.last.body?.get("parser")).toBe("text");
  });
});
