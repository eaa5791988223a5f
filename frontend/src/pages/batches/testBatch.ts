// Batches as the API returns them, for the Batches page's tests.
import type { Batch } from "./model";

/** A batch in `status` with request counts [total, completed, failed]; `extra` overrides. */
export function batch(status: string, counts: [number, number, number], extra: Partial<Batch> = {}): Batch {
  return {
    id: "batch_abc",
    object: "batch",
    endpoint: "/v1/chat/completions",
    model: "qwen-plus",
    errors: null,
    input_file_id: "file-in",
    completion_window: "24h",
    status,
    output_file_id: null,
    error_file_id: null,
    created_at: 1_750_000_000,
    in_progress_at: null,
    expires_at: 1_750_086_400,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: counts[0], completed: counts[1], failed: counts[2] },
    usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    metadata: null,
    ...extra,
  };
}
