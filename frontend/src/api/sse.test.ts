import { describe, expect, it } from "vitest";
import { eventStreamParser, type SseEvent } from "./sse";

function collect() {
  const events: SseEvent[] = [];
  return { events, parser: eventStreamParser((event) => events.push(event)) };
}

describe("eventStreamParser", () => {
  it("delivers complete frames and keeps the unfinished rest", () => {
    const { events, parser } = collect();
    parser.feed('event: text\ndata: {"text": "你"}\n\nevent: text\ndata: {"text": "好"}\n\nevent: done\ndata: {"te');
    expect(events).toEqual([
      { event: "text", data: { text: "你" } },
      { event: "text", data: { text: "好" } },
    ]);
    parser.feed('xt": "你好"}\n\n');
    expect(events.slice(2)).toEqual([{ event: "done", data: { text: "你好" } }]);
  });

  it("reads unnamed and non-JSON frames", () => {
    const { events, parser } = collect();
    parser.feed("data: [DONE]\n\n");
    expect(events).toEqual([{ event: "message", data: "[DONE]" }]);
  });

  it("delivers an unterminated last frame at the end, once", () => {
    const { events, parser } = collect();
    parser.feed('event: text\r\ndata: {"text": "a"}\r\n\r\nevent: done\r\ndata: {}');
    expect(events).toEqual([{ event: "text", data: { text: "a" } }]);
    parser.end();
    expect(events).toEqual([
      { event: "text", data: { text: "a" } },
      { event: "done", data: {} },
    ]);
  });
});
