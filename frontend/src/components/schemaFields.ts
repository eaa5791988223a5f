// JSON Schema (as pydantic writes it for plugin settings and tool arguments) → form fields,
// and form values → the JSON the API takes. Pure, so it is unit-tested; SchemaForm.tsx
// renders the fields with antd.
//
// Handled: string, number, integer, boolean, enum (inline `enum`, `const` alternatives or a
// `$ref` to `$defs`), arrays of strings, `anyOf [X, null]` (optional), required, titles,
// descriptions, defaults, minimum/maximum; a secret (`format: password` / `writeOnly`, as
// pydantic marks SecretStr) is a password input. Anything else is edited as JSON text.
// With `objectArrays` (the workflow canvas's node settings), an array of objects is a list
// of sub-forms (`itemFields`, recursively) and a union of scalars that takes a string is a
// string field.

export type FieldKind = "string" | "number" | "integer" | "boolean" | "enum" | "stringArray" | "objectArray" | "json";

export interface SchemaFieldsOptions {
  objectArrays?: boolean;
}

export interface FieldSpec {
  name: string;
  title: string;
  description?: string;
  kind: FieldKind;
  required: boolean;
  nullable: boolean;
  secret: boolean;
  multiline: boolean;
  options?: (string | number)[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  /** The fields of each item of an objectArray. */
  itemFields?: FieldSpec[];
  /** Whether the JSON Schema's `format` or description marks the string a template. */
  format?: string;
}

/** What the API answers for a stored secret, and takes back to keep it. */
export const SECRET_MASK = "***";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolve(node: Json, root: Json): Json {
  const ref = node.$ref;
  if (typeof ref === "string" && ref.startsWith("#/")) {
    let target: unknown = root;
    for (const part of ref.slice(2).split("/")) target = isObject(target) ? target[part] : undefined;
    if (isObject(target)) return { ...target, ...Object.fromEntries(Object.entries(node).filter(([k]) => k !== "$ref")) };
  }
  return node;
}

function humanize(name: string): string {
  const words = name.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** One field per top-level property of an object schema, in the schema's order. */
export function schemaFields(schema: unknown, options: SchemaFieldsOptions = {}): FieldSpec[] {
  if (!isObject(schema)) return [];
  return fieldsOf(schema, schema, options);
}

const SCALARS = new Set(["string", "number", "integer", "boolean"]);

function fieldsOf(schema: Json, root: Json, options: SchemaFieldsOptions): FieldSpec[] {
  if (!isObject(schema.properties)) return [];
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.entries(schema.properties).map(([name, raw]) => {
    let node = resolve(isObject(raw) ? raw : {}, root);
    let nullable = false;
    const alternatives = (node.anyOf ?? node.oneOf) as unknown;
    if (Array.isArray(alternatives)) {
      const choices = alternatives.filter(isObject).map((option) => resolve(option, root));
      const nonNull = choices.filter((option) => option.type !== "null");
      nullable = nonNull.length < choices.length;
      if (nonNull.length === 1) node = { ...nonNull[0], ...withoutKeys(node, ["anyOf", "oneOf"]) };
      else if (nonNull.length > 1 && nonNull.every((option) => "const" in option)) {
        node = { ...withoutKeys(node, ["anyOf", "oneOf"]), enum: nonNull.map((option) => option.const) };
      } else if (options.objectArrays && nonNull.length > 1 && nonNull.every((o) => SCALARS.has(String(o.type))) && nonNull.some((o) => o.type === "string")) {
        node = { ...withoutKeys(node, ["anyOf", "oneOf"]), type: "string" };
      }
    }
    if (Array.isArray(node.type)) {
      const types = (node.type as string[]).filter((type) => type !== "null");
      nullable = nullable || types.length < (node.type as string[]).length;
      node = { ...node, type: types.length === 1 ? types[0] : undefined };
    }
    const secret = node.format === "password" || node.writeOnly === true;
    const items = isObject(node.items) ? resolve(node.items, root) : {};
    let kind: FieldKind = "json";
    if (Array.isArray(node.enum)) kind = "enum";
    else if (node.type === "string") kind = "string";
    else if (node.type === "integer") kind = "integer";
    else if (node.type === "number") kind = "number";
    else if (node.type === "boolean") kind = "boolean";
    else if (node.type === "array" && items.type === "string" && !Array.isArray(items.enum)) kind = "stringArray";
    else if (options.objectArrays && node.type === "array" && isObject(items.properties)) kind = "objectArray";
    const description = typeof node.description === "string" ? node.description : undefined;
    return {
      name,
      title: typeof node.title === "string" ? node.title : humanize(name),
      description,
      kind,
      required: required.has(name),
      nullable,
      secret,
      multiline: kind === "string" && (node.format === "textarea" || (typeof node.maxLength === "number" && node.maxLength > 500)),
      options: kind === "enum" ? (node.enum as (string | number)[]) : undefined,
      default: node.default,
      minimum: typeof node.minimum === "number" ? node.minimum : typeof node.exclusiveMinimum === "number" ? node.exclusiveMinimum : undefined,
      maximum: typeof node.maximum === "number" ? node.maximum : typeof node.exclusiveMaximum === "number" ? node.exclusiveMaximum : undefined,
      ...(kind === "objectArray" ? { itemFields: fieldsOf(items, root, options) } : {}),
      ...(typeof node.format === "string" ? { format: node.format } : {}),
    };
  });
}

function withoutKeys(node: Json, keys: string[]): Json {
  return Object.fromEntries(Object.entries(node).filter(([key]) => !keys.includes(key)));
}

/** Names of secrets that have a stored value (the API answered them as "***"). */
export function storedSecrets(fields: FieldSpec[], values: Json | undefined): string[] {
  return fields.filter((f) => f.secret && values?.[f.name] === SECRET_MASK).map((f) => f.name);
}

/** Initial form values: the stored settings, else the schema's defaults. Secrets start
 * empty (the input shows "***" as its placeholder when one is stored). */
export function toFormValues(fields: FieldSpec[], values: Json | undefined): Json {
  const out: Json = {};
  for (const field of fields) {
    const value = values && field.name in values ? values[field.name] : field.default;
    if (field.secret) out[field.name] = undefined;
    else if (field.kind === "json") out[field.name] = value === undefined || value === null ? undefined : JSON.stringify(value, null, 2);
    else out[field.name] = value ?? undefined;
  }
  return out;
}

/** Form values → the JSON to send. Empty optional fields are left out (or null when the
 * schema allows it); an untouched stored secret is sent back as "***" to keep it; JSON
 * fields are parsed (the form validates them first). */
export function fromFormValues(fields: FieldSpec[], form: Json, stored: string[] = []): Json {
  const out: Json = {};
  for (const field of fields) {
    const value = form[field.name];
    const empty = value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0 && !field.required);
    if (field.secret) {
      if (!empty) out[field.name] = value;
      else if (stored.includes(field.name)) out[field.name] = SECRET_MASK;
      continue;
    }
    if (empty) {
      if (field.kind === "boolean") out[field.name] = false;
      else if (field.nullable) out[field.name] = null;
      continue;
    }
    if (field.kind === "json") out[field.name] = typeof value === "string" ? JSON.parse(value) : value;
    else out[field.name] = value;
  }
  return out;
}

/** Whether `text` parses as JSON (for validating json fields). */
export function isJson(text: unknown): boolean {
  if (typeof text !== "string" || !text.trim()) return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
