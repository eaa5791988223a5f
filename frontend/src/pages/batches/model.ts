// Batches: types and the pure helpers of the Batch page (status, progress, timeline, the
// example input line, metadata), kept apart from the components so they are easy to test.
import type { Schemas } from "../../api/client";

export type Batch = Schemas["BatchOut"];
export type BatchFile = Schemas["FileOut"];

/** OpenAI's batch statuses, in the order a batch goes through them. */
export const BATCH_STATUSES = ["validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** Statuses a batch leaves by itself (a worker is on it): the page polls while one shows. */
export const UNFINISHED: readonly BatchStatus[] = ["validating", "in_progress", "finalizing", "cancelling"];

export function isKnownStatus(status: string): status is BatchStatus {
  return (BATCH_STATUSES as readonly string[]).includes(status);
}

export function isUnfinished(status: string): boolean {
  return (UNFINISHED as readonly string[]).includes(status);
}

/** Whether any batch of the list is still moving (so the list is worth polling). */
export function anyUnfinished(batches: readonly Pick<Batch, "status">[] | undefined): boolean {
  return Boolean(batches?.some((b) => isUnfinished(b.status)));
}

/** Whether the cancel button applies (cancelling is already on its way). */
export function isCancellable(status: string): boolean {
  return isUnfinished(status) && status !== "cancelling";
}

const STATUS_COLOR: Record<BatchStatus, string> = {
  validating: "processing",
  in_progress: "processing",
  finalizing: "processing",
  completed: "success",
  failed: "error",
  expired: "warning",
  cancelling: "warning",
  cancelled: "default",
};

/** The antd Tag colour of a status. */
export function statusColor(status: string): string {
  return isKnownStatus(status) ? STATUS_COLOR[status] : "default";
}

export interface Progress {
  /** Lines answered, well or not. */
  done: number;
  total: number;
  failed: number;
  /** 0–100; 100 only once every line is done (or a finished batch had none). */
  percent: number;
  /** antd Progress status. */
  status: "success" | "exception" | "active" | "normal";
}

/** How far a batch is: (completed + failed) / total. */
export function progressOf(batch: Pick<Batch, "status" | "request_counts">): Progress {
  const { total, completed, failed } = batch.request_counts;
  const done = Math.min(completed + failed, total > 0 ? total : completed + failed);
  let percent: number;
  if (total > 0) percent = done >= total ? 100 : Math.floor((done / total) * 100);
  else percent = batch.status === "completed" ? 100 : 0;
  let status: Progress["status"] = "normal";
  if (batch.status === "completed") status = "success";
  else if (batch.status === "failed" || batch.status === "expired") status = "exception";
  else if (isUnfinished(batch.status)) status = "active";
  return { done, total, failed, percent, status };
}

/** The timestamps of a batch's life, in the order they happened. */
export const TIMELINE_EVENTS = [
  "created_at",
  "in_progress_at",
  "finalizing_at",
  "cancelling_at",
  "completed_at",
  "failed_at",
  "expired_at",
  "cancelled_at",
] as const;
export type TimelineEvent = (typeof TIMELINE_EVENTS)[number];

export function timelineOf(batch: Pick<Batch, TimelineEvent>): { event: TimelineEvent; at: number }[] {
  // sort() is stable: events of the same second keep the table's order.
  return TIMELINE_EVENTS.flatMap((event) => {
    const at = batch[event];
    return at == null ? [] : [{ event, at }];
  }).sort((a, b) => a.at - b.at);
}

/** A unix time (seconds) as local date and time; "—" for none. */
/** A long id shortened for a table cell (`batch_003e85…3e3`); the whole id stays copyable. */
export function shortId(id: string, head = 12, tail = 4): string {
  return id.length <= head + tail + 1 ? id : `${id.slice(0, head)}…${id.slice(-tail)}`;
}

export function formatTime(seconds: number | null | undefined): string {
  return seconds == null ? "—" : new Date(seconds * 1000).toLocaleString();
}

export const ENDPOINTS = ["/v1/chat/completions", "/v1/embeddings"] as const;
export type BatchEndpoint = (typeof ENDPOINTS)[number];

/** Completion windows offered (the API takes 24h to 336h, or 1d to 14d). */
export const COMPLETION_WINDOWS = ["24h", "48h", "72h", "7d", "14d"] as const;

/** One line of an input file for `endpoint` and `model`, as the user should write it. */
export function exampleLine(endpoint: string, model: string, n = 1): string {
  const body =
    endpoint === "/v1/embeddings"
      ? { model, input: "知识库 / knowledge base" }
      : { model, messages: [{ role: "user", content: "Summarise this ticket in one sentence: …" }] };
  return JSON.stringify({ custom_id: `request-${n}`, method: "POST", url: endpoint, body });
}

/** The model an example should name: the workspace's default for the endpoint, else the first. */
export function exampleModel(models: readonly Pick<Schemas["WorkspaceModelOut"], "name" | "capabilities" | "is_default">[], endpoint: string): string {
  const capability = endpoint === "/v1/embeddings" ? "embedding" : "chat";
  const fit = models.filter((m) => (m.capabilities as string[]).includes(capability));
  return (fit.find((m) => m.is_default) ?? fit[0])?.name ?? (capability === "chat" ? "qwen-plus" : "text-embedding-v3");
}

export interface MetadataPair {
  key?: string;
  value?: string;
}

/** The metadata object of the form's key/value rows (blank keys dropped); null when empty. */
export function metadataOf(pairs: readonly MetadataPair[] | undefined): Record<string, string> | null {
  const entries = (pairs ?? []).map((p) => [(p.key ?? "").trim(), p.value ?? ""] as const).filter(([key]) => key);
  return entries.length ? Object.fromEntries(entries) : null;
}

/** The OpenAI SDK calls that do what the page does, against this platform. */
export function sdkSnippet(origin: string, endpoint = "/v1/chat/completions"): string {
  return `from openai import OpenAI

client = OpenAI(base_url="${origin}/compatible-mode/v1", api_key="sk-...")
batch_input = client.files.create(file=open("requests.jsonl", "rb"), purpose="batch")
batch = client.batches.create(
    input_file_id=batch_input.id, endpoint="${endpoint}", completion_window="24h"
)
print(client.batches.retrieve(batch.id).status)
`;
}
