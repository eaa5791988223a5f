import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { BatchDetails, BatchProgress, BatchStatusTag } from "./BatchDetails";
import type { Batch } from "./model";
import { batch } from "./testBatch";

const completed: Batch = batch("completed", [3, 3, 0], {
  id: "batch_1",
  output_file_id: "file-out",
  in_progress_at: 1_750_000_002,
  finalizing_at: 1_750_000_010,
  completed_at: 1_750_000_011,
  usage: { input_tokens: 30, output_tokens: 12, total_tokens: 42 },
  metadata: { team: "search" },
});

const failed: Batch = {
  ...completed,
  id: "batch_2",
  status: "failed",
  model: null,
  output_file_id: null,
  in_progress_at: null,
  finalizing_at: null,
  completed_at: null,
  failed_at: 1_750_000_003,
  request_counts: { total: 2, completed: 0, failed: 0 },
  usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
  metadata: null,
  errors: {
    object: "list",
    data: [
      { code: "mismatched_model", message: "model is 'b', but line 1 names 'a'; a batch runs one model.", param: "body.model", line: 2 },
      { code: "invalid_json_line", message: "The line is not valid JSON.", param: null, line: 3 },
    ],
  },
};

describe("BatchStatusTag and BatchProgress", () => {
  it("show the status in words and the share of lines answered", () => {
    render(
      <>
        <BatchStatusTag status="in_progress" />
        <BatchProgress batch={{ status: "in_progress", request_counts: { total: 4, completed: 1, failed: 1 } }} />
      </>,
    );
    expect(screen.getByTestId("batch-status").textContent).toBe("In progress");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("50");
    expect(screen.getByText("2 / 4")).toBeTruthy();
    expect(screen.getByText("1 failed")).toBeTruthy();
  });
});

describe("BatchDetails", () => {
  it("shows a completed batch's timeline, counts, tokens and files to download", () => {
    render(<BatchDetails batch={completed} />);
    const details = screen.getByTestId("batch-details");
    for (const event of ["Created", "Validated; running", "Writing the results", "Completed"]) expect(within(details).getAllByText(event).length).toBeGreaterThan(0);
    expect(within(details).queryByText("Deadline: lines not answered by then expire")).toBeNull();
    expect(screen.getByText("42")).toBeTruthy();
    expect(screen.getByTestId("download-input")).toBeTruthy();
    expect(screen.getByTestId("download-output")).toBeTruthy();
    expect(screen.queryByTestId("download-errors")).toBeNull();
    expect(screen.getByText("team: search")).toBeTruthy();
    expect(screen.queryByTestId("batch-errors")).toBeNull();
  });

  it("lists a failed batch's validation errors by line", () => {
    render(<BatchDetails batch={failed} />);
    expect(screen.getByText("Errors (2)")).toBeTruthy();
    const table = screen.getByTestId("batch-errors");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getAllByRole("cell")[0]?.textContent)).toEqual(["2", "3"]);
    expect(within(table).getByText("mismatched_model")).toBeTruthy();
    expect(within(table).getByText("The line is not valid JSON.")).toBeTruthy();
    // No output was written: nothing to download but the input.
    expect(screen.queryByTestId("download-output")).toBeNull();
    expect(screen.getAllByText("none").length).toBe(2);
  });

  it("shows the deadline while a batch runs", () => {
    render(<BatchDetails batch={{ ...completed, status: "in_progress", completed_at: null, finalizing_at: null, output_file_id: null }} />);
    expect(screen.getByText("Deadline: lines not answered by then expire")).toBeTruthy();
    expect(screen.getAllByText("not yet").length).toBe(2);
  });
});
