// The canvas against the stored draft: the definition it shows now, whether that differs
// from the stored one (unsaved), and a stored draft that changed (saved and normalized by
// the server, rolled back) shown on the canvas unless it already is.
import { useEffect, useMemo, useRef, useState } from "react";
import { canonical, fromFlow, normalizeDefinition } from "./definition";
import type { useCanvasState } from "./useCanvasState";

export function useStoredDefinition(draft: unknown) {
  return useMemo(() => normalizeDefinition(draft), [draft]);
}

export function useDraft(stored: ReturnType<typeof normalizeDefinition>, canvas: ReturnType<typeof useCanvasState>) {
  const [maxSteps, setMaxSteps] = useState(stored.max_steps);
  const definition = useMemo(() => fromFlow(canvas.nodes, canvas.edges, { max_steps: maxSteps }), [canvas.nodes, canvas.edges, maxSteps]);
  const json = JSON.stringify(definition);
  const [savedJson, setSavedJson] = useState(() => JSON.stringify(canonical(stored)));
  const jsonNow = useRef(json);
  jsonNow.current = json;
  const { reset } = canvas;
  useEffect(() => {
    const incoming = JSON.stringify(canonical(stored));
    setSavedJson(incoming);
    if (incoming !== jsonNow.current) {
      reset(stored);
      setMaxSteps(stored.max_steps);
    }
  }, [stored, reset]);
  return { definition, dirty: json !== savedJson, maxSteps, setMaxSteps };
}
