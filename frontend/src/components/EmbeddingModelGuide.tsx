// Which local embedding model to pick for which language, with the figures bench/ measured
// (local_embeddings.py for speed, retrieval_quality.py for quality). Shown under the
// embedding model of the create dialog: the model is fixed once the knowledge base exists.
import { Typography } from "antd";
import { useTranslation } from "react-i18next";

/** The local models the guide explains (name → its i18n key), in the order it lists them:
 *  the multilingual default first, then the English-only fast one, then the fastest. */
export const LOCAL_EMBEDDING_GUIDE = {
  "multilingual-e5-small": "e5",
  "all-minilm-l6-v2": "minilm",
  "use-m3": "useM3",
} as const;

/** A line per local model among `offered` (the names granted to the workspace); nothing
 *  when none is, as a workspace that only has a provider's models has nothing to pick. */
export function EmbeddingModelGuide({ offered }: { offered: readonly string[] }) {
  const { t } = useTranslation();
  const known = Object.entries(LOCAL_EMBEDDING_GUIDE).filter(([name]) => offered.includes(name));
  if (known.length === 0) return null;
  return (
    <div data-testid="embedding-guide" style={{ marginTop: 4 }}>
      <Typography.Text type="secondary">{t("kb.create.embeddingGuide.title")}</Typography.Text>
      <ul style={{ margin: "2px 0 0", paddingInlineStart: 18 }}>
        {known.map(([name, key]) => (
          <li key={name}>
            <Typography.Text type="secondary">
              <Typography.Text code>{name}</Typography.Text> {t(`kb.create.embeddingGuide.${key}` as "kb.create.embeddingGuide.e5")}
            </Typography.Text>
          </li>
        ))}
      </ul>
    </div>
  );
}
