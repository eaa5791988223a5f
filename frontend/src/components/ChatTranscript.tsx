import { Empty } from "antd";
import { useEffect, useRef, type ReactNode } from "react";

/** The playgrounds' conversation: a scrolling box of turns that follows the newest one
 *  (whenever `follow` changes), with `empty` shown while there is no turn. */
export function ChatTranscript({ height, follow, empty, children }: { height: number; follow: unknown; empty: ReactNode | null; children: ReactNode }) {
  const bottom = useRef<HTMLDivElement>(null);
  // A block, not an arrow expression: Chromium's scrollIntoView returns a promise, which
  // React would take for the effect's cleanup and call ("destroy is not a function").
  useEffect(() => {
    bottom.current?.scrollIntoView?.({ block: "end" });
  }, [follow]);
  return (
    <div style={{ height, overflowY: "auto", border: "1px solid #f0f0f0", borderRadius: 8, padding: 12, display: "flex", flexDirection: "column", gap: 8 }}>
      {empty !== null && <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={empty} />}
      {children}
      <div ref={bottom} />
    </div>
  );
}
