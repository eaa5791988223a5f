import i18n from "i18next";
import { describe, expect, it } from "vitest";
import "../i18n";
import { ingestProgressText, pagesPercent, pagesProgressText, timeLeft } from "./ingestProgress";

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

describe("pagesProgressText", () => {
  it("says which page is being read while parsing, when the loader reports pages", async () => {
    await i18n.changeLanguage("en");
    const t = i18n.t.bind(i18n);
    expect(pagesProgressText({ status: "parsing", pages_done: 2, pages_total: 12 }, t, "en")).toBe("Reading page 3 of 12");
    expect(pagesProgressText({ status: "parsing", pages_done: 0, pages_total: 1500 }, t, "en")).toBe("Reading page 1 of 1,500");
    // The last page read: still page 12, never 13 of 12.
    expect(pagesProgressText({ status: "parsing", pages_done: 12, pages_total: 12 }, t, "en")).toBe("Reading page 12 of 12");
    expect(pagesProgressText({ status: "parsing", pages_done: 0, pages_total: 0 }, t, "en")).toBeNull();
    expect(pagesProgressText({ status: "embedding", pages_done: 12, pages_total: 12 }, t, "en")).toBeNull();
    expect(pagesPercent({ status: "parsing", pages_done: 3, pages_total: 12 })).toBe(25);
    expect(pagesPercent({ status: "parsing", pages_done: 0, pages_total: 0 })).toBeNull();
  });

  it("speaks Chinese too", async () => {
    await i18n.changeLanguage("zh");
    const t = i18n.t.bind(i18n);
    expect(pagesProgressText({ status: "parsing", pages_done: 2, pages_total: 12 }, t, "zh")).toBe("正在读取第 3/12 页");
    await i18n.changeLanguage("en");
  });
});
