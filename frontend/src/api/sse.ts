// Server-sent events from a POST (the model and app playgrounds): `event: name` and one
// `data: {json}` line per frame. A refusal before the stream starts is an ApiError.
import { consoleHeaders, ensureCsrfCookie, reportUnauthenticated } from "./client";
import { apiErrorFromResponse } from "./errors";

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Split a buffer into complete frames and the unfinished rest. */
export function parseFrames(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (!data.length) continue;
    const text = data.join("\n");
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain text data (`[DONE]`)
    }
    events.push({ event, data: parsed });
  }
  return { events, rest };
}

export async function postEventStream(
  path: string,
  body: unknown,
  onEvent: (event: SseEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  await ensureCsrfCookie();
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...consoleHeaders("POST") },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok || !response.body) {
    const error = await apiErrorFromResponse(response);
    reportUnauthenticated(error);
    throw error;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const { events, rest } = parseFrames(buffer);
    buffer = rest;
    events.forEach(onEvent);
  }
  parseFrames(buffer + "\n\n").events.forEach(onEvent);
}
