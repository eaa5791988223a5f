import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { formatBytes, UploadProgressList, type UploadItem } from "./UploadProgressList";

const items: UploadItem[] = [
  { uid: "1", name: "policy.pdf", size: 2_500_000, percent: 42, state: "uploading" },
  { uid: "2", name: "制度.docx", size: 2048, percent: 100, state: "done" },
  { uid: "3", name: "virus.exe", size: 10, percent: 100, state: "failed", error: "Unsupported file type: .exe." },
  { uid: "4", name: "copy.txt", size: 10, percent: 100, state: "duplicate" },
];

describe("UploadProgressList", () => {
  it("shows each file with its own progress and outcome", () => {
    render(<UploadProgressList items={items} />);
    expect(screen.getAllByTestId("upload-item")).toHaveLength(4);
    expect(screen.getByText("policy.pdf")).toBeTruthy();
    // Only the file still uploading has a progress bar, at its own percentage.
    const bars = screen.getAllByRole("progressbar");
    expect(bars).toHaveLength(1);
    expect(bars[0]?.getAttribute("aria-valuenow")).toBe("42");
    expect(screen.getByTestId("upload-error").textContent).toBe("Unsupported file type: .exe.");
    expect(screen.getByText("Already in this knowledge base")).toBeTruthy();
    expect(screen.getByText("Uploaded")).toBeTruthy();
  });

  it("renders nothing without files", () => {
    const { container } = render(<UploadProgressList items={[]} />);
    expect(container.innerHTML).toBe("");
  });

  it("formats sizes", () => {
    expect([formatBytes(900), formatBytes(2048), formatBytes(2_500_000)]).toEqual(["900 B", "2.0 KB", "2.4 MB"]);
  });
});
