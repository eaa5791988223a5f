import { describe, expect, it } from "vitest";
import { citedNumbers, promptVariables, splitCitations, withoutPartialMarker } from "./citations";

describe("splitCitations", () => {
  it("keeps plain text as one segment", () => {
    expect(splitCitations("no sources here")).toEqual([{ type: "text", text: "no sources here" }]);
    expect(splitCitations("")).toEqual([]);
  });

  it("turns markers into refs between text", () => {
    expect(splitCitations("Hotels cost 500 yuan<ref>[1]</ref>, meals 100<ref>[2]</ref>.")).toEqual([
      { type: "text", text: "Hotels cost 500 yuan" },
      { type: "ref", n: 1 },
      { type: "text", text: ", meals 100" },
      { type: "ref", n: 2 },
      { type: "text", text: "." },
    ]);
  });

  it("reads several numbers in one marker and tolerates spaces", () => {
    expect(splitCitations("<ref>[1][3]</ref>x<ref> [ 2 ], [4] </ref>")).toEqual([
      { type: "ref", n: 1 },
      { type: "ref", n: 3 },
      { type: "text", text: "x" },
      { type: "ref", n: 2 },
      { type: "ref", n: 4 },
    ]);
  });

  it("leaves malformed markers as text", () => {
    expect(splitCitations("a <ref>one</ref> b")).toEqual([{ type: "text", text: "a <ref>one</ref> b" }]);
  });
});

describe("withoutPartialMarker", () => {
  it("holds back a marker still arriving", () => {
    expect(withoutPartialMarker("cost 500<")).toBe("cost 500");
    expect(withoutPartialMarker("cost 500<re")).toBe("cost 500");
    expect(withoutPartialMarker("cost 500<ref>[1")).toBe("cost 500");
    expect(withoutPartialMarker("cost 500<ref>[1]</re")).toBe("cost 500");
  });

  it("keeps complete markers and other angle brackets", () => {
    expect(withoutPartialMarker("cost 500<ref>[1]</ref>")).toBe("cost 500<ref>[1]</ref>");
    expect(withoutPartialMarker("a < b and <b>bold</b>")).toBe("a < b and <b>bold</b>");
    expect(withoutPartialMarker("plain")).toBe("plain");
  });
});

describe("citedNumbers", () => {
  it("lists each cited number once, in order", () => {
    expect(citedNumbers("a<ref>[2]</ref> b<ref>[1]</ref> c<ref>[2]</ref>")).toEqual([2, 1]);
  });
});

describe("promptVariables", () => {
  it("finds each {{name}} once, in order", () => {
    expect(promptVariables("Answer {{company}}'s users in {{ language }}; {{company}} again. {{ 1bad }} {x}")).toEqual([
      "company",
      "language",
    ]);
  });
});
