import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import { DocumentBadges, StatusCell } from "./KnowledgeBaseDetail";

const doc = (change: Partial<Schemas["DocumentOut"]>): Schemas["DocumentOut"] => ({
  id: "d1",
  knowledge_base_id: "k",
  name: "scan.pdf",
  size: 1000,
  checksum: "x",
  media_type: "application/pdf",
  loader: "pdf",
  status: "ready",
  error: "",
  attempts: 1,
  progress: 100,
  chunk_count: 3,
  chunks_done: 3,
  chunks_total: 3,
  token_count: 100,
  pages_done: 0,
  pages_total: 0,
  parser: "auto",
  warnings: [],
  tags: [],
  metadata: {},
  timings: {},
  queued_at: "2026-01-01T00:00:00Z",
  started_at: null,
  finished_at: null,
  created_at: "2026-01-01T00:00:00Z",
  ...change,
});

describe("StatusCell", () => {
  it("says which page is being read while parsing, with a bar at the pages read", () => {
    render(<StatusCell doc={doc({ status: "parsing", progress: 5, pages_done: 2, pages_total: 12, chunks_total: 0 })} />);
    expect(screen.getByTestId("doc-status").textContent).toBe("Parsing");
    expect(screen.getByTestId("doc-progress").textContent).toBe("Reading page 3 of 12");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("17");
  });

  it("falls back to the chunks once parsed, and to nothing when the loader reports no pages", () => {
    const { rerender } = render(<StatusCell doc={doc({ status: "embedding", progress: 60, pages_done: 12, pages_total: 12, chunks_done: 5, chunks_total: 10 })} />);
    expect(screen.getByTestId("doc-progress").textContent).toBe("5 / 10 chunks");
    rerender(<StatusCell doc={doc({ status: "parsing", progress: 5, chunks_total: 0 })} />);
    expect(screen.queryByTestId("doc-progress")).toBeNull();
  });
});

describe("DocumentBadges", () => {
  it("tags a document read by OCR and lists a ready document's warnings", async () => {
    render(<DocumentBadges doc={doc({ parser: "ocr", warnings: ["page 4: OCR failed (timeout)", "page 9: no text found"] })} />);
    expect(screen.getByTestId("doc-parser").textContent).toBe("OCR");
    const warnings = screen.getByTestId("doc-warnings");
    expect(warnings.textContent).toBe("Warnings (2)");
    fireEvent.mouseEnter(warnings);
    expect(await screen.findByText("page 4: OCR failed (timeout)")).toBeTruthy();
    expect(screen.getByText("page 9: no text found")).toBeTruthy();
  });

  it("shows nothing for the automatic parser without warnings", () => {
    const { container } = render(<DocumentBadges doc={doc({})} />);
    expect(container.innerHTML).toBe("");
  });
});
