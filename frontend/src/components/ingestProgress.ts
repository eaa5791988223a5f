// A document's ingestion progress in words: "123 / 2,000 chunks · about 2 min left".
import type { TFunction } from "i18next";

export interface IngestProgress {
  chunks_done: number;
  chunks_total: number;
  seconds_left?: number | null;
}

/** "about 40 s left", "about 2 min left", "about 1.5 h left"; null when unknown. */
export function timeLeft(seconds: number | null | undefined, t: TFunction): string | null {
  if (seconds === null || seconds === undefined || seconds < 0) return null;
  if (seconds < 60) return t("kb.timeLeft.seconds", { n: Math.max(1, Math.ceil(seconds)) });
  if (seconds < 3600) return t("kb.timeLeft.minutes", { n: Math.ceil(seconds / 60) });
  return t("kb.timeLeft.hours", { n: Math.round((seconds / 3600) * 10) / 10 });
}

/** Chunks done of total, and the time left when known; null before the document is chunked. */
export function ingestProgressText(doc: IngestProgress, t: TFunction, language?: string): string | null {
  if (!doc.chunks_total) return null;
  const format = (n: number) => n.toLocaleString(language === "zh" ? "zh-CN" : "en-US");
  const chunks = t("kb.chunkProgress", { done: format(doc.chunks_done), total: format(doc.chunks_total) });
  const left = timeLeft(doc.seconds_left, t);
  return left ? `${chunks} · ${left}` : chunks;
}
