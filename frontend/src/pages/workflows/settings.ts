// A node type's settings schema (GET /workflow/node-types) as form fields, the defaults of
// a new node and of a new list item (a condition's case, a classifier's class), and which
// fields name a variable or hold a template. Pure, unit-tested.
import { schemaFields, type FieldSpec } from "../../components/schemaFields";
import { nextItemId } from "./definition";

export function settingsFields(schema: unknown): FieldSpec[] {
  return schemaFields(schema, { objectArrays: true });
}

/** The schema's defaults, as a new node's settings start. */
export function defaultsOf(fields: FieldSpec[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (field.default !== undefined) out[field.name] = structuredClone(field.default);
  }
  return out;
}

const SINGULAR: Record<string, string> = { cases: "case", classes: "class", conditions: "condition", variables: "var" };

/** A new item of an object list: its fields' defaults, a fresh id where it has one, and one
 *  item in each list it requires (a case needs a comparison). */
export function newItem(field: FieldSpec, list: unknown): Record<string, unknown> {
  const itemFields = field.itemFields ?? [];
  const item = defaultsOf(itemFields);
  for (const sub of itemFields) {
    if (sub.name === "id") item.id = nextItemId(SINGULAR[field.name] ?? field.name.replace(/s$/, ""), list);
    else if (sub.kind === "objectArray" && sub.required && item[sub.name] === undefined) item[sub.name] = [newItem(sub, [])];
    else if (sub.kind === "string" && sub.required && item[sub.name] === undefined && sub.name !== "name") item[sub.name] = "";
  }
  if (field.name === "variables" && itemFields.some((f) => f.name === "name") && item.name === undefined) item.name = nextItemId("var", (Array.isArray(list) ? list : []).map((v) => ({ id: (v as { name?: string }).name })));
  return item;
}

const VARIABLE_NAMES = new Set(["variable", "items", "query_variable", "input_variable", "selector"]);
const TEMPLATE_NAMES = new Set(["prompt", "system_prompt", "text", "output", "template", "instruction", "instructions", "body", "question"]);

/** A field that names one variable (`node_id.output`): offered the variables as choices. */
export function isVariableField(field: FieldSpec): boolean {
  if (field.kind !== "string" && field.kind !== "stringArray") return false;
  if (VARIABLE_NAMES.has(field.name) || field.name.endsWith("_variable") || field.format === "variable") return field.kind === "string" || field.name === "variables";
  const description = field.description ?? "";
  if (/template/i.test(description)) return false;
  if (field.name === "output" && field.kind === "string" && description) return true; // an iteration's collected output
  return /\bvariables?\b/i.test(description) && /node_id\.output/.test(description);
}

/** A field listing knowledge bases of the workspace. */
export function isKnowledgeBasesField(field: FieldSpec): boolean {
  return field.kind === "stringArray" && field.name === "knowledge_base_ids";
}

/** A field written as a template (`{{ node_id.output }}`): a text area. */
export function isTemplateField(field: FieldSpec): boolean {
  if (field.kind !== "string") return false;
  return field.multiline || /template/i.test(field.description ?? "") || (TEMPLATE_NAMES.has(field.name) && !field.description);
}

/** A field naming a chat model of the workspace. */
export function isModelField(field: FieldSpec): boolean {
  return field.kind === "string" && field.name === "model";
}

/** A tool node's tool ({type, id}): picked among the workspace's tools and apps. */
export function isToolField(field: FieldSpec): boolean {
  return field.name === "tool" && field.kind === "json";
}

/** An agent node's published agent app. */
export function isAppField(field: FieldSpec): boolean {
  return field.name === "app_id" && field.kind === "string";
}

/** A tool reference as a select's value (`plugin:calculator`), and back. */
export function toolKey(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { type, id } = value as { type?: unknown; id?: unknown };
  return typeof type === "string" && typeof id === "string" ? `${type}:${id}` : undefined;
}

export function toolFromKey(key: string | undefined): { type: string; id: string } | null {
  if (!key) return null;
  const [type, ...id] = key.split(":");
  return { type: type ?? "", id: id.join(":") };
}
