import { describe, expect, it } from "vitest";
import { defaultSettings, handlesOf } from "./definition";
import { defaultsOf, isAppField, isKnowledgeBasesField, isToolField, toolFromKey, toolKey, isTemplateField, isVariableField, newItem, settingsFields } from "./settings";

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

const retrieval = {
  properties: {
    knowledge_base_ids: { items: { format: "uuid", type: "string" }, minItems: 1, title: "Knowledge Base Ids", type: "array" },
    query: { default: "sys.query", description: "The variable whose text is searched for (node_id.output).", title: "Query", type: "string" },
    variables: { description: "Variables of the branches (node_id.output); the first with a value wins.", items: { type: "string" }, title: "Variables", type: "array" },
    output: { default: "", description: "A template: {{ node_id.output }}.", title: "Output", type: "string" },
    items: { description: "The array: node_id.output, or node_id.output.key for one in an object.", title: "Items", type: "string" },
  },
  type: "object",
};

describe("node settings", () => {
  it("knows variable, template and knowledge base fields", () => {
    const fields = settingsFields(retrieval);
    expect(fields.filter(isVariableField).map((f) => f.name)).toEqual(["query", "variables", "items"]);
    const collected = settingsFields({ properties: { output: { description: "The inner node's output collected per item.", title: "Output", type: "string" } } });
    expect(isVariableField(collected[0]!)).toBe(true);
    expect(isTemplateField(collected[0]!)).toBe(false);
    expect(fields.filter(isTemplateField).map((f) => f.name)).toEqual(["output"]);
    expect(fields.filter(isKnowledgeBasesField).map((f) => f.name)).toEqual(["knowledge_base_ids"]);
  });

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
    expect(isVariableField(conditions.itemFields![2]!)).toBe(false);
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

describe("pickers", () => {
  it("reads a tool reference as a select value and back", () => {
    expect(toolKey({ type: "http", id: "a:b" })).toBe("http:a:b");
    expect(toolFromKey("http:a:b")).toEqual({ type: "http", id: "a:b" });
    expect(toolKey(null)).toBeUndefined();
    expect(toolFromKey(undefined)).toBeNull();
  });

  it("knows a tool node's tool and an agent node's app", () => {
    const fields = settingsFields({
      $defs: { ToolReference: { properties: { type: { enum: ["plugin", "http", "app"], type: "string" }, id: { type: "string" } }, type: "object" } },
      properties: {
        tool: { $ref: "#/$defs/ToolReference" },
        app_id: { anyOf: [{ format: "uuid", type: "string" }, { type: "null" }], default: null },
      },
      type: "object",
    });
    expect(fields.filter(isToolField).map((f) => f.name)).toEqual(["tool"]);
    expect(fields.filter(isAppField).map((f) => f.name)).toEqual(["app_id"]);
  });
});
