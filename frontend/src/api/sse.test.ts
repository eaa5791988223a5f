import { describe, expect, it } from "vitest";
import { parseFrames } from "./sse";

describe("parseFrames", () => {
  it("splits complete frames and keeps the unfinished rest", () => {
    const { events, rest } = parseFrames('event: text\ndata: {"text": "你"}\n\nevent: text\ndata: {"text": "好"}\n\nevent: done\ndata: {"te');
    expect(events).toEqual([
      { event: "text", data: { text: "你" } },
      { event: "text", data: { text: "好" } },
    ]);
    expect(rest).toBe('event: done\ndata: {"te');
  });

  it("reads unnamed and non-JSON frames", () => {
    expect(parseFrames("data: [DONE]\n\n").events).toEqual([{ event: "message", data: "[DONE]" }]);
  });
});
