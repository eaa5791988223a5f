import { describe, expect, it } from "vitest";
import { defaultSettings, handlesOf } from "./definition";
import { defaultsOf, isTemplateField, isVariableField, newItem, settingsFields } from "./settings";

// The condition node's settings schema, as pydantic writes it.
const condition = {
  $defs: {
    Case: {
      additionalProperties: false,
      properties: {
        id: { pattern: "^[A-Za-z_][A-Za-z0-9_-]{0,63}$", title: "Id", type: "string" },
        logic: { default: "and", enum: ["and", "or"], title: "Logic", type: "string" },
        conditions: { items: { $ref: "#/$defs/Comparison" }, maxItems: 20, minItems: 1, title: "Conditions", type: "array" },
      },
      required: ["id", "conditions"],
      title: "Case",
      type: "object",
    },
    Comparison: {
      additionalProperties: false,
      properties: {
        variable: { pattern: "^x$", title: "Variable", type: "string" },
        operator: { default: "equals", enum: ["equals", "contains", "empty"], title: "Operator", type: "string" },
        value: { anyOf: [{ type: "string" }, { type: "number" }, { type: "boolean" }, { type: "null" }], default: null, title: "Value" },
      },
      required: ["variable"],
      title: "Comparison",
      type: "object",
    },
  },
  additionalProperties: false,
  properties: { cases: { items: { $ref: "#/$defs/Case" }, maxItems: 20, minItems: 1, title: "Cases", type: "array" } },
  required: ["cases"],
  title: "ConditionSettings",
  type: "object",
};

const llm = {
  properties: {
    model: { default: "", description: "A chat model of the workspace.", maxLength: 100, title: "Model", type: "string" },
    system_prompt: { default: "", description: "A template.", maxLength: 20000, title: "System Prompt", type: "string" },
    prompt: { default: "{{ sys.query }}", maxLength: 50000, minLength: 1, title: "Prompt", type: "string" },
    temperature: { anyOf: [{ maximum: 2, minimum: 0, type: "number" }, { type: "null" }], default: null, title: "Temperature" },
    json_schema: { anyOf: [{ additionalProperties: true, type: "object" }, { type: "null" }], default: null, title: "Json Schema" },
  },
  type: "object",
};

describe("node settings", () => {
  it("reads a condition's cases as nested lists", () => {
    const [cases] = settingsFields(condition);
    expect(cases!.kind).toBe("objectArray");
    const conditions = cases!.itemFields!.find((f) => f.name === "conditions")!;
    expect(conditions.kind).toBe("objectArray");
    expect(conditions.itemFields!.map((f) => [f.name, f.kind])).toEqual([
      ["variable", "string"],
      ["operator", "enum"],
      ["value", "string"],
    ]);
    expect(isVariableField(conditions.itemFields![0]!)).toBe(true);
  });

  it("makes a new case with a fresh id and one comparison", () => {
    const [cases] = settingsFields(condition);
    const item = newItem(cases!, [{ id: "case_1" }]);
    expect(item).toEqual({ id: "case_2", logic: "and", conditions: [{ variable: "", operator: "equals", value: null }] });
  });

  it("starts a node from the schema's defaults", () => {
    const fields = settingsFields(llm);
    expect(defaultsOf(fields)).toEqual({ model: "", system_prompt: "", prompt: "{{ sys.query }}", temperature: null, json_schema: null });
    expect(fields.filter(isTemplateField).map((f) => f.name)).toEqual(["system_prompt", "prompt"]);
    expect(fields.find((f) => f.name === "json_schema")!.kind).toBe("json");
    const settings = defaultSettings("condition", defaultsOf(settingsFields(condition)), "");
    expect(handlesOf("condition", settings)).toEqual(["case_1", "else"]);
  });
});
