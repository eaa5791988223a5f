// A workflow run as the playground follows it: the stream's node_started / node_finished
// events applied to per-node states (for lighting the canvas) and to a trace (one entry per
// node run, in order; a node inside an iteration runs once per item). Pure, unit-tested.
export type NodeStatus = "running" | "succeeded" | "failed" | "waiting";

export interface NodeStartedEvent {
  node_id: string;
  node_type: string;
  title: string;
  inputs?: unknown;
}

export interface NodeFinishedEvent {
  node_id: string;
  node_type: string;
  title: string;
  status: Exclude<NodeStatus, "running">;
  outputs?: unknown;
  input_tokens?: number;
  output_tokens?: number;
  latency_ms?: number;
  error?: string | null;
}

export interface NodeRun {
  node_id: string;
  node_type: string;
  title: string;
  status: NodeStatus;
  inputs: unknown;
  outputs: unknown;
  input_tokens: number;
  output_tokens: number;
  latency_ms: number | null;
  error: string | null;
}

export interface RunTrace {
  /** Node runs in the order they started. */
  entries: NodeRun[];
}

export const EMPTY_TRACE: RunTrace = { entries: [] };

/** Apply one stream event; events other than node_started / node_finished change nothing. */
export function applyRunEvent(trace: RunTrace, event: string, data: unknown): RunTrace {
  if (typeof data !== "object" || data === null) return trace;
  if (event === "node_started") {
    const e = data as NodeStartedEvent;
    const entry: NodeRun = {
      node_id: e.node_id,
      node_type: e.node_type,
      title: e.title,
      status: "running",
      inputs: e.inputs ?? null,
      outputs: null,
      input_tokens: 0,
      output_tokens: 0,
      latency_ms: null,
      error: null,
    };
    return { entries: [...trace.entries, entry] };
  }
  if (event === "node_finished") {
    const e = data as NodeFinishedEvent;
    const finished = (base: Partial<NodeRun>): NodeRun => ({
      node_id: e.node_id,
      node_type: e.node_type,
      title: e.title,
      inputs: null,
      ...base,
      status: e.status,
      outputs: e.outputs ?? null,
      input_tokens: e.input_tokens ?? 0,
      output_tokens: e.output_tokens ?? 0,
      latency_ms: e.latency_ms ?? null,
      error: e.error ?? null,
    });
    // The last run of this node still running is the one that finished.
    for (let i = trace.entries.length - 1; i >= 0; i--) {
      const entry = trace.entries[i]!;
      if (entry.node_id === e.node_id && entry.status === "running") {
        const entries = [...trace.entries];
        entries[i] = finished(entry);
        return { entries };
      }
    }
    return { entries: [...trace.entries, finished({})] };
  }
  return trace;
}

/** Each node's latest run (what its place on the canvas shows). */
export function nodeStates(trace: RunTrace): Record<string, NodeRun> {
  const out: Record<string, NodeRun> = {};
  for (const entry of trace.entries) out[entry.node_id] = entry;
  return out;
}

/** Runs still marked running when the stream ended (cancelled or failed elsewhere) stop. */
export function settle(trace: RunTrace, status: Exclude<NodeStatus, "running"> = "failed"): RunTrace {
  if (!trace.entries.some((e) => e.status === "running")) return trace;
  return { entries: trace.entries.map((e) => (e.status === "running" ? { ...e, status } : e)) };
}
