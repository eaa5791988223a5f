import { describe, expect, it } from "vitest";
import { nodeSummary } from "./summary";

describe("node summaries", () => {
  it("says what each node is set to do, in one short line", () => {
    expect(nodeSummary("llm", { model: "qwen-plus" })).toBe("qwen-plus");
    expect(nodeSummary("http_request", { method: "POST", url: "https://x.example/api" })).toBe("POST https://x.example/api");
    expect(nodeSummary("start", { variables: [{ name: "city" }, { name: "days" }] })).toBe("city, days");
    expect(nodeSummary("tool", { tool: { type: "plugin", id: "calculator" } })).toBe("plugin:calculator");
    expect(nodeSummary("condition", { cases: [] })).toBe("");
    const long = nodeSummary("answer", { text: "word ".repeat(40) });
    expect(long.length).toBeLessThanOrEqual(60);
    expect(long.endsWith("…")).toBe(true);
  });
});
