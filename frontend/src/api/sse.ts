// Server-sent events from a POST (the model and app playgrounds): `event: name` and one
// `data: {json}` line per frame, parsed by eventsource-parser. A refusal before the stream
// starts is an ApiError.
import { createParser } from "eventsource-parser";
import { consoleHeaders, ensureCsrfCookie, reportUnauthenticated } from "./client";
import { apiErrorFromResponse } from "./errors";

export interface SseEvent {
  event: string;
  data: unknown;
}

/** A parser fed text as it arrives: each complete frame goes to `onEvent` (unnamed frames
 *  as "message", JSON data parsed, other data as text); `end` delivers an unfinished last one. */
export function eventStreamParser(onEvent: (event: SseEvent) => void): { feed: (chunk: string) => void; end: () => void } {
  const parser = createParser({
    onEvent: ({ event, data }) => {
      let parsed: unknown = data;
      try {
        parsed = JSON.parse(data);
      } catch {
        // plain text data (`[DONE]`)
      }
      onEvent({ event: event ?? "message", data: parsed });
    },
  });
  return { feed: (chunk) => parser.feed(chunk), end: () => parser.feed("\n\n") };
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
  const parser = eventStreamParser(onEvent);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  parser.feed(decoder.decode());
  parser.end();
}
