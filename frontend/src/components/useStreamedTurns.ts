import { useRef, useState } from "react";
import { errorMessage } from "../api/errors";
import { postEventStream, type SseEvent } from "../api/sse";

/** The playgrounds' conversation state: the turns, whether an answer is streaming, and
 *  `stream`, which posts and hands each server-sent event to `onEvent` (which changes the
 *  last turn, the answer, with `updateLast`). A failure other than `stop` becomes the
 *  answer's error. */
export function useStreamedTurns<Turn extends { error?: string }>() {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const updateLast = (change: (turn: Turn) => Turn) => setTurns((all) => [...all.slice(0, -1), change(all[all.length - 1] as Turn)]);
  const stream = async (path: string, body: unknown, onEvent: (event: SseEvent) => void) => {
    setBusy(true);
    const controller = new AbortController();
    abort.current = controller;
    try {
      await postEventStream(path, body, onEvent, controller.signal);
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "AbortError")) updateLast((turn) => ({ ...turn, error: errorMessage(error) }));
    } finally {
      setBusy(false);
      abort.current = null;
    }
  };
  const stop = () => abort.current?.abort();
  return { turns, setTurns, busy, updateLast, stream, stop };
}
