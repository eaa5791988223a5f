// A document's ingestion progress in words: "Reading page 4 of 12" while it is parsed,
// "123 / 2,000 chunks · about 2 min left" while it is embedded.
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

export interface PagesProgress {
  status: string;
  pages_done: number;
  pages_total: number;
}

/** While parsing, the page being read of the pages the loader reported (pages, slides or
 * images): "Reading page 4 of 12" once 3 are read; null when it reported none. */
export function pagesProgressText(doc: PagesProgress, t: TFunction, language?: string): string | null {
  if (doc.status !== "parsing" || !(doc.pages_total > 0)) return null;
  const format = (n: number) => n.toLocaleString(language === "zh" ? "zh-CN" : "en-US");
  const page = Math.min(Math.max(doc.pages_done, 0) + 1, doc.pages_total);
  return t("kb.pagesProgress", { page: format(page), total: format(doc.pages_total) });
}

/** Pages read of the total, 0–100; null when the loader reported no pages. */
export function pagesPercent(doc: PagesProgress): number | null {
  if (doc.status !== "parsing" || !(doc.pages_total > 0)) return null;
  return Math.min(100, Math.round((Math.max(doc.pages_done, 0) / doc.pages_total) * 100));
}
