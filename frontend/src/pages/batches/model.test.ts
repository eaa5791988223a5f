import { describe, expect, it } from "vitest";
import {
  anyUnfinished,
  exampleLine,
  exampleModel,
  isCancellable,
  isUnfinished,
  metadataOf,
  progressOf,
  sdkSnippet,
  shortId,
  statusColor,
  timelineOf,
} from "./model";

const counts = (total: number, completed: number, failed: number) => ({ total, completed, failed });

describe("batch status helpers", () => {
  it("know which statuses are still moving", () => {
    expect(["validating", "in_progress", "finalizing", "cancelling"].map(isUnfinished)).toEqual([true, true, true, true]);
    expect(["completed", "failed", "expired", "cancelled", "whatever"].map(isUnfinished)).toEqual([false, false, false, false, false]);
    expect(anyUnfinished([{ status: "completed" }, { status: "in_progress" }])).toBe(true);
    expect(anyUnfinished([{ status: "completed" }, { status: "failed" }])).toBe(false);
    expect(anyUnfinished(undefined)).toBe(false);
  });

  it("offer cancel only while a batch runs and is not being cancelled already", () => {
    expect(["validating", "in_progress", "finalizing"].every(isCancellable)).toBe(true);
    expect(["cancelling", "cancelled", "completed", "failed", "expired"].some(isCancellable)).toBe(false);
  });

  it("colour the tags", () => {
    expect([statusColor("completed"), statusColor("failed"), statusColor("in_progress"), statusColor("expired"), statusColor("cancelled")]).toEqual([
      "success",
      "error",
      "processing",
      "warning",
      "default",
    ]);
    expect(statusColor("new_status")).toBe("default");
  });
});

describe("progressOf", () => {
  it("counts answered lines, failed ones included", () => {
    expect(progressOf({ status: "in_progress", request_counts: counts(200, 90, 10) })).toEqual({ done: 100, total: 200, failed: 10, percent: 50, status: "active" });
  });

  it("does not round up to 100 before every line is done", () => {
    expect(progressOf({ status: "in_progress", request_counts: counts(200, 199, 0) }).percent).toBe(99);
    expect(progressOf({ status: "finalizing", request_counts: counts(3, 2, 1) }).percent).toBe(100);
  });

  it("handles batches without lines counted yet, and finished ones", () => {
    expect(progressOf({ status: "validating", request_counts: counts(0, 0, 0) })).toMatchObject({ percent: 0, status: "active" });
    expect(progressOf({ status: "completed", request_counts: counts(0, 0, 0) })).toMatchObject({ percent: 100, status: "success" });
    expect(progressOf({ status: "failed", request_counts: counts(5, 0, 0) })).toMatchObject({ percent: 0, status: "exception" });
    expect(progressOf({ status: "expired", request_counts: counts(4, 1, 0) })).toMatchObject({ percent: 25, status: "exception" });
    expect(progressOf({ status: "cancelled", request_counts: counts(4, 2, 0) })).toMatchObject({ percent: 50, status: "normal" });
  });
});

describe("timelineOf", () => {
  it("lists the timestamps that are set, in time order", () => {
    const batch = {
      created_at: 100,
      in_progress_at: 105,
      finalizing_at: null,
      cancelling_at: 110,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelled_at: 112,
    } satisfies Parameters<typeof timelineOf>[0];
    expect(timelineOf(batch)).toEqual([
      { event: "created_at", at: 100 },
      { event: "in_progress_at", at: 105 },
      { event: "cancelling_at", at: 110 },
      { event: "cancelled_at", at: 112 },
    ]);
  });
});

describe("the example line and metadata", () => {
  it("writes a valid request line for each endpoint", () => {
    const chat = JSON.parse(exampleLine("/v1/chat/completions", "qwen-plus", 2)) as Record<string, unknown>;
    expect(chat).toMatchObject({ custom_id: "request-2", method: "POST", url: "/v1/chat/completions", body: { model: "qwen-plus" } });
    expect((chat.body as { messages: unknown[] }).messages).toHaveLength(1);
    const embedding = JSON.parse(exampleLine("/v1/embeddings", "text-embedding-v3")) as { url: string; body: Record<string, unknown> };
    expect(embedding.url).toBe("/v1/embeddings");
    expect(Object.keys(embedding.body)).toEqual(["model", "input"]);
  });

  it("names the workspace's default model for the endpoint", () => {
    const models = [
      { name: "chat-a", capabilities: ["chat" as const], is_default: false },
      { name: "chat-b", capabilities: ["chat" as const, "tool_calls" as const], is_default: true },
      { name: "embed", capabilities: ["embedding" as const], is_default: false },
    ];
    expect(exampleModel(models, "/v1/chat/completions")).toBe("chat-b");
    expect(exampleModel(models, "/v1/embeddings")).toBe("embed");
    expect(exampleModel([], "/v1/chat/completions")).toBe("qwen-plus");
  });

  it("builds metadata from the form's rows", () => {
    expect(metadataOf([{ key: " team ", value: "search" }, { key: "", value: "dropped" }, { key: "run" }])).toEqual({ team: "search", run: "" });
    expect(metadataOf([])).toBeNull();
    expect(metadataOf(undefined)).toBeNull();
  });

  it("points the SDK snippet at the compatible-mode surface", () => {
    const code = sdkSnippet("https://studio.example.com");
    expect(code).toContain('base_url="https://studio.example.com/compatible-mode/v1"');
    expect(code).toContain("client.batches.create(");
    expect(code).toContain('purpose="batch"');
  });
});


describe("shortId", () => {
  it("keeps the prefix and the end of a long id", () => {
    expect(shortId("batch_003e859da32544a7a1b60cd5fe90e3e3")).toBe("batch_003e85…e3e3");
  });
  it("leaves a short id whole", () => {
    expect(shortId("batch_abc")).toBe("batch_abc");
  });
});
