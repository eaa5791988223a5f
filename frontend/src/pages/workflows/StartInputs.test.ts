import { describe, expect, it } from "vitest";
import { inputValues, startVariables } from "./StartInputs";

describe("start inputs", () => {
  it("reads the start node's variables, skipping unnamed ones", () => {
    expect(startVariables({ variables: [{ name: "city", type: "string" }, { name: "" }, null] }).map((v) => v.name)).toEqual(["city"]);
    expect(startVariables(undefined)).toEqual([]);
  });

  it("sends filled values typed, objects and lists parsed, the rest left to the defaults", () => {
    const variables = [
      { name: "city", type: "string" },
      { name: "n", type: "number" },
      { name: "ok", type: "boolean" },
      { name: "tags", type: "array" },
      { name: "bad", type: "object" },
      { name: "empty", type: "string" },
    ];
    expect(inputValues(variables, { city: "Hangzhou", n: 3, ok: false, tags: '["a"]', bad: "{nope", empty: "" })).toEqual({ city: "Hangzhou", n: 3, ok: false, tags: ["a"] });
  });
});
