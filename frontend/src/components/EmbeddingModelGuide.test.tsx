import { render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import i18n from "../i18n";
import { EmbeddingModelGuide } from "./EmbeddingModelGuide";

afterEach(() => {
  void i18n.changeLanguage("en");
});

describe("EmbeddingModelGuide", () => {
  it("explains each granted local model, the multilingual default first", () => {
    render(<EmbeddingModelGuide offered={["use-m3", "all-minilm-l6-v2", "multilingual-e5-small", "text-embedding-v3"]} />);
    const items = within(screen.getByTestId("embedding-guide")).getAllByRole("listitem");
    expect(items.map((item) => item.querySelector("code")?.textContent)).toEqual(["multilingual-e5-small", "all-minilm-l6-v2", "use-m3"]);
    expect(items[1]?.textContent).toMatch(/English only/);
    expect(items[0]?.textContent).toMatch(/Chinese/);
  });

  it("lists only the models the workspace has", () => {
    render(<EmbeddingModelGuide offered={["all-minilm-l6-v2"]} />);
    expect(within(screen.getByTestId("embedding-guide")).getAllByRole("listitem")).toHaveLength(1);
  });

  it("shows nothing without a local model", () => {
    const { container } = render(<EmbeddingModelGuide offered={["text-embedding-v3"]} />);
    expect(container.innerHTML).toBe("");
  });

  it("speaks Chinese", async () => {
    await i18n.changeLanguage("zh");
    render(<EmbeddingModelGuide offered={["all-minilm-l6-v2"]} />);
    expect(screen.getByTestId("embedding-guide").textContent).toMatch(/仅英文/);
  });
});
