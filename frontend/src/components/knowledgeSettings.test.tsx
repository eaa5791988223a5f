import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { Form } from "antd";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import { WorkspaceProvider, type Me } from "../session/workspace";
import { ParserField, RerankFields } from "./knowledgeSettings";

const me: Me = {
  user: { id: 1, email: "alice@example.com", name: "Alice", is_platform_admin: false },
  workspaces: [{ id: "00000000-0000-0000-0000-000000000001", name: "Acme", slug: "acme", role: "developer", created_at: "2026-01-01T00:00:00Z" }],
};

const ok = <T,>(data: T) => Promise.resolve({ data, response: new Response(null, { status: 200 }) });

afterEach(() => vi.restoreAllMocks());

function Harness({ onValues }: { onValues: (values: Record<string, unknown>) => void }) {
  const [form] = Form.useForm();
  return (
    <Form form={form} layout="vertical" initialValues={{ parser: "auto", rerank_mode: "pointwise", rerank_model: "bge-reranker" }} onValuesChange={(_, all) => onValues(all)}>
      <ParserField />
      <RerankFields />
    </Form>
  );
}

function options() {
  return [...document.querySelectorAll(".ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option")].map((o) => o.textContent);
}

describe("RerankFields", () => {
  it("lists rerank models for pointwise and chat models for listwise, dropping a model that does not fit", async () => {
    vi.spyOn(api, "GET").mockImplementation(((path: string) => {
      if (path === "/console/api/models")
        return ok([
          { name: "bge-reranker", display_name: "", capabilities: ["rerank"], is_default: false },
          { name: "qwen-plus", display_name: "", capabilities: ["chat", "tool_calls"], is_default: true },
          { name: "use-m3", display_name: "", capabilities: ["embedding"], is_default: true },
        ]);
      throw new Error(`unexpected GET ${path}`);
    }) as never);
    const values: Record<string, unknown>[] = [];
    render(
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <WorkspaceProvider me={me}>
          <Harness onValues={(v) => values.push(v)} />
        </WorkspaceProvider>
      </QueryClientProvider>,
    );
    expect(screen.getByText(/Reads the text layer; pages without one/)).toBeTruthy();
    expect(screen.getByText(/a rerank model scores each passage/)).toBeTruthy();
    fireEvent.mouseDown(screen.getByRole("combobox", { name: "Rerank model" }));
    await waitFor(() => expect(options()).toEqual(["bge-reranker"]));

    fireEvent.click(screen.getByRole("radio", { name: "Chat model" }));
    await screen.findByText(/a chat model reads the query and the passages/);
    expect(values.at(-1)).toMatchObject({ rerank_mode: "listwise" });
    // bge-reranker is no chat model: the field is emptied (its placeholder shows).
    const chatModel = screen.getByRole("combobox", { name: "Chat model for reranking" });
    await waitFor(() => expect(chatModel.closest(".ant-select")?.textContent).toBe("None"));
    fireEvent.mouseDown(chatModel);
    await waitFor(() => expect(options()).toEqual(["qwen-plus"]));
  });
});
