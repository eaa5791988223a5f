// The canvas's keys: Ctrl/Cmd+Z undo, Ctrl/Cmd+Shift+Z (or Ctrl+Y) redo, Delete/Backspace
// delete the selection; not while typing, not from a dialog, and only while the canvas is
// shown (another tab keeps it mounted, hidden).
import { useEffect, useRef, type RefObject } from "react";

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return Boolean(el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.isContentEditable));
}

export function useShortcuts(enabled: boolean, canvas: RefObject<HTMLElement | null>, actions: { undo: () => void; redo: () => void; remove: () => void }) {
  const ref = useRef(actions);
  ref.current = actions;
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      if (typing(e.target) || !canvas.current?.offsetParent) return;
      if ((e.target as HTMLElement | null)?.closest?.(".ant-modal")) return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "z") {
        e.preventDefault();
        if (e.shiftKey) ref.current.redo();
        else ref.current.undo();
      } else if (mod && e.key.toLowerCase() === "y") {
        e.preventDefault();
        ref.current.redo();
      } else if (e.key === "Delete" || e.key === "Backspace") {
        ref.current.remove();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [enabled, canvas]);
}
