import i18n from "i18next";
import { describe, expect, it } from "vitest";
import "../i18n";
import { ingestProgressText, timeLeft } from "./ingestProgress";

describe("ingestProgressText", () => {
  it("says chunks done of total and about how long is left", async () => {
    await i18n.changeLanguage("en");
    const t = i18n.t.bind(i18n);
    expect(ingestProgressText({ chunks_done: 123, chunks_total: 2000, seconds_left: 95 }, t, "en")).toBe(
      "123 / 2,000 chunks · about 2 min left",
    );
    expect(ingestProgressText({ chunks_done: 0, chunks_total: 5, seconds_left: null }, t, "en")).toBe("0 / 5 chunks");
    expect(ingestProgressText({ chunks_done: 0, chunks_total: 0 }, t, "en")).toBeNull();
    expect(timeLeft(0.4, t)).toBe("about 1 s left");
    expect(timeLeft(5400, t)).toBe("about 1.5 h left");
  });

  it("speaks Chinese too", async () => {
    await i18n.changeLanguage("zh");
    const t = i18n.t.bind(i18n);
    expect(ingestProgressText({ chunks_done: 123, chunks_total: 2000, seconds_left: 30 }, t, "zh")).toBe(
      "123 / 2,000 个切片 · 约剩 30 秒",
    );
    await i18n.changeLanguage("en");
  });
});
