import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { Button, Form } from "antd";
import { describe, expect, it } from "vitest";
import { SchemaFields } from "./SchemaForm";
import { fromFormValues, isJson, schemaFields, storedSecrets, toFormValues } from "./schemaFields";

// The openai provider's settings schema, as pydantic writes it (SecretStr | None api_key).
const provider = {
  additionalProperties: false,
  properties: {
    base_url: { default: "https://api.openai.com/v1", description: "The API root.", title: "Base Url", type: "string" },
    api_key: {
      anyOf: [{ format: "password", type: "string", writeOnly: true }, { type: "null" }],
      default: null,
      description: "Sent as a bearer token.",
      title: "Api Key",
    },
    timeout_seconds: { default: 60, maximum: 600, minimum: 1, title: "Timeout Seconds", type: "number" },
    max_retries: { default: 2, maximum: 10, minimum: 0, title: "Max Retries", type: "integer" },
    allowed_domains: { anyOf: [{ items: { type: "string" }, type: "array" }, { type: "null" }], default: null, title: "Allowed Domains" },
    mode: { $ref: "#/$defs/Mode" },
    verbose: { type: "boolean", title: "Verbose" },
    extra: { type: "object", title: "Extra" },
  },
  required: ["mode"],
  $defs: { Mode: { enum: ["fast", "exact"], type: "string", title: "Mode" } },
  title: "Settings",
  type: "object",
};

describe("schemaFields", () => {
  it("maps each property to a field kind", () => {
    const fields = schemaFields(provider);
    expect(fields.map((f) => [f.name, f.kind, f.required, f.nullable, f.secret])).toEqual([
      ["base_url", "string", false, false, false],
      ["api_key", "string", false, true, true],
      ["timeout_seconds", "number", false, false, false],
      ["max_retries", "integer", false, false, false],
      ["allowed_domains", "stringArray", false, true, false],
      ["mode", "enum", true, false, false],
      ["verbose", "boolean", false, false, false],
      ["extra", "json", false, false, false],
    ]);
    const mode = fields.find((f) => f.name === "mode");
    expect(mode?.options).toEqual(["fast", "exact"]);
    expect(fields[2]).toMatchObject({ minimum: 1, maximum: 600, default: 60, title: "Timeout Seconds" });
    expect(fields[0]?.description).toBe("The API root.");
  });

  it("reads enums of const alternatives and type lists, and tolerates junk", () => {
    const fields = schemaFields({
      type: "object",
      properties: { unit: { oneOf: [{ const: "c" }, { const: "f" }] }, n: { type: ["integer", "null"] } },
    });
    expect(fields.map((f) => [f.kind, f.nullable, f.options])).toEqual([
      ["enum", false, ["c", "f"]],
      ["integer", true, undefined],
    ]);
    expect(schemaFields(null)).toEqual([]);
    expect(schemaFields({ type: "object" })).toEqual([]);
  });
});

describe("form values", () => {
  const fields = schemaFields(provider);

  it("starts from stored settings or defaults, never showing secrets", () => {
    const stored = { api_key: "***", max_retries: 5, extra: { a: 1 } };
    expect(storedSecrets(fields, stored)).toEqual(["api_key"]);
    const values = toFormValues(fields, stored);
    expect(values).toMatchObject({ base_url: "https://api.openai.com/v1", api_key: undefined, max_retries: 5, timeout_seconds: 60 });
    expect(JSON.parse(values.extra as string)).toEqual({ a: 1 });
  });

  it("sends a kept secret back as *** and a new one as typed", () => {
    const base = { base_url: "http://x/v1", mode: "fast" };
    expect(fromFormValues(fields, { ...base, api_key: "" }, ["api_key"])).toMatchObject({ api_key: "***" });
    expect(fromFormValues(fields, { ...base, api_key: "sk-new" }, ["api_key"])).toMatchObject({ api_key: "sk-new" });
    expect(fromFormValues(fields, { ...base, api_key: undefined }, [])).not.toHaveProperty("api_key");
  });

  it("turns empty optional fields into null or leaves them out, and parses JSON", () => {
    const out = fromFormValues(fields, { base_url: "", mode: "exact", allowed_domains: [], extra: '{"b": 2}', verbose: undefined });
    expect(out).toEqual({ mode: "exact", allowed_domains: null, extra: { b: 2 }, verbose: false });
    expect(isJson("{")).toBe(false);
    expect(isJson("")).toBe(true);
  });
});

function Harness({ onValues }: { onValues: (values: Record<string, unknown>) => void }) {
  const fields = schemaFields(provider);
  const stored = ["api_key"];
  return (
    <Form layout="vertical" initialValues={{ settings: toFormValues(fields, { api_key: "***" }) }} onFinish={(v) => onValues(fromFormValues(fields, v.settings, stored))}>
      <SchemaFields fields={fields} stored={stored} prefix={["settings"]} />
      <Button htmlType="submit">save</Button>
    </Form>
  );
}

describe("SchemaFields", () => {
  it("renders labels, descriptions, a masked secret, and checks required fields", async () => {
    let sent: Record<string, unknown> | null = null;
    render(<Harness onValues={(v) => (sent = v)} />);
    expect(screen.getByText("Base Url")).toBeTruthy();
    expect(screen.getByText("The API root.")).toBeTruthy();
    const secret = screen.getByTestId("secret-api_key") as HTMLInputElement;
    expect(secret.type).toBe("password");
    expect(secret.placeholder).toBe("***");
    expect(secret.value).toBe("");
    fireEvent.submit(screen.getByRole("button", { name: "save" }).closest("form") as HTMLFormElement);
    expect(await screen.findByText("Mode is required.")).toBeTruthy();
    expect(sent).toBeNull();
  });

  it("submits the typed values with the kept secret", async () => {
    let sent: Record<string, unknown> | null = null;
    const fields = schemaFields({ type: "object", properties: provider.properties });
    render(
      <Form layout="vertical" initialValues={toFormValues(fields, { api_key: "***" })} onFinish={(v) => (sent = fromFormValues(fields, v, ["api_key"]))}>
        <SchemaFields fields={fields} stored={["api_key"]} />
        <Button htmlType="submit">save</Button>
      </Form>,
    );
    fireEvent.submit(screen.getByRole("button", { name: "save" }).closest("form") as HTMLFormElement);
    await waitFor(() => expect(sent).not.toBeNull());
    expect(sent).toMatchObject({ api_key: "***", base_url: "https://api.openai.com/v1", timeout_seconds: 60, max_retries: 2 });
  });
});
