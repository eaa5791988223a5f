// What the canvas shows on its nodes besides their definition: the check's problems and,
// in the playground, each node's run state. Kept out of the nodes (and so out of undo).
import { createContext, useContext } from "react";
import type { NodeRun } from "./runState";

export interface CanvasDecorations {
  problems: Record<string, string[]>;
  states: Record<string, NodeRun>;
}

export const CanvasContext = createContext<CanvasDecorations>({ problems: {}, states: {} });

export function useDecorations(): CanvasDecorations {
  return useContext(CanvasContext);
}
