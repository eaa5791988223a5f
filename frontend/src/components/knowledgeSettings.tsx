// How a knowledge base reads files (the parser) and reorders what retrieval found (the rerank
// mode and model): the fields shared by the create and edit dialogs and the upload.
import { Form, Radio, Select, Typography } from "antd";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import type { Schemas } from "../api/client";
import { useModels } from "../pages/Models";

export type Parser = Schemas["Parser"];
export type RerankMode = Schemas["RerankMode"];
export const PARSERS: readonly Parser[] = ["auto", "text", "ocr"];
export const RERANK_MODES: readonly RerankMode[] = ["pointwise", "listwise"];

/** What each parser does, in a sentence; for a Form.Item's `extra`. */
export function parserHelp(parser: Parser | undefined | null, t: TFunction): string {
  return t(`kb.parser.help.${parser ?? "auto"}` as "kb.parser.help.auto");
}

/** The three parsers, each with its help below its name in the open list. */
export function ParserSelect({ value, onChange, id, ...rest }: { value?: Parser; onChange?: (value: Parser) => void; id?: string; style?: React.CSSProperties; "aria-label"?: string }) {
  const { t } = useTranslation();
  return (
    <Select<Parser>
      id={id}
      value={value}
      onChange={onChange}
      options={PARSERS.map((p) => ({ value: p, label: t(`kb.parser.options.${p}` as "kb.parser.options.auto") }))}
      optionRender={(option) => (
        <div style={{ whiteSpace: "normal" }}>
          <div>{option.label}</div>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {parserHelp(option.value as Parser, t)}
          </Typography.Text>
        </div>
      )}
      popupMatchSelectWidth={false}
      {...rest}
    />
  );
}

/** The `parser` field of a knowledge base form, with the chosen parser's help below it. */
export function ParserField({ note }: { note?: string }) {
  const { t } = useTranslation();
  const parser = Form.useWatch<Parser | undefined>("parser");
  const help = parserHelp(parser, t);
  return (
    <Form.Item
      name="parser"
      label={t("kb.parser.label")}
      extra={
        note ? (
          <>
            {help}
            <br />
            {note}
          </>
        ) : (
          help
        )
      }
    >
      <ParserSelect />
    </Form.Item>
  );
}

/** The `rerank_mode` and `rerank_model` fields: pointwise lists rerank models, listwise chat models. */
export function RerankFields() {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const models = useModels();
  const mode = (Form.useWatch<RerankMode | undefined>("rerank_mode") ?? "pointwise") as RerankMode;
  const capability = mode === "listwise" ? "chat" : "rerank";
  const candidates = (models.data ?? []).filter((m) => m.capabilities.includes(capability));
  return (
    <>
      <Form.Item name="rerank_mode" label={t("kb.rerankMode.label")} extra={t(`kb.rerankMode.help.${mode}` as "kb.rerankMode.help.pointwise")}>
        <Radio.Group
          optionType="button"
          options={RERANK_MODES.map((m) => ({ value: m, label: t(`kb.rerankMode.options.${m}` as "kb.rerankMode.options.pointwise") }))}
          onChange={(event) => {
            // A rerank model cannot order passages as a chat model does, nor the other way round.
            const next = event.target.value as RerankMode;
            const model = form.getFieldValue("rerank_model") as string | undefined | null;
            const fits = (models.data ?? []).some((m) => m.name === model && m.capabilities.includes(next === "listwise" ? "chat" : "rerank"));
            if (model && !fits) form.setFieldValue("rerank_model", undefined);
          }}
        />
      </Form.Item>
      <Form.Item name="rerank_model" label={mode === "listwise" ? t("kb.rerankMode.chatModel") : t("kb.rerankModel")}>
        <Select
          allowClear
          loading={models.isPending}
          placeholder={t("kb.create.noRerank")}
          options={candidates.map((m) => ({ value: m.name, label: m.display_name || m.name }))}
          notFoundContent={mode === "listwise" ? t("kb.rerankMode.noChatModels") : t("kb.create.noRerankModels")}
        />
      </Form.Item>
    </>
  );
}
