// Citations in an app's answer: the model cites passage n as `<ref>[n]</ref>`, and n is the
// 1-based index into the answer's `doc_references`. Pure functions, so they are unit-tested.

export type Segment = { type: "text"; text: string } | { type: "ref"; n: number };

const MARKER = /<ref>\s*((?:\[\s*\d+\s*\]\s*,?\s*)+)<\/ref>/g;
const NUMBER = /\d+/g;

/** Split an answer into plain text and citation markers (`<ref>[1][2]</ref>` is two refs). */
export function splitCitations(text: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(MARKER)) {
    const start = match.index ?? 0;
    if (start > last) segments.push({ type: "text", text: text.slice(last, start) });
    for (const digits of (match[1] ?? "").match(NUMBER) ?? []) segments.push({ type: "ref", n: Number(digits) });
    last = start + match[0].length;
  }
  if (last < text.length) segments.push({ type: "text", text: text.slice(last) });
  return segments;
}

/** While streaming, hold back a marker that has only partly arrived (`…<ref>[1`), so it
 * does not flash as raw text before it becomes a badge. */
export function withoutPartialMarker(text: string): string {
  const open = text.lastIndexOf("<ref>");
  if (open !== -1) {
    const tail = text.slice(open);
    if (/^<ref>[\s\d[\],]*(<|<\/|<\/r|<\/re|<\/ref)?$/.test(tail)) return text.slice(0, open);
  }
  for (let length = 4; length >= 1; length--) {
    if (text.endsWith("<ref>".slice(0, length))) return text.slice(0, text.length - length);
  }
  return text;
}

/** The distinct citation numbers in order of first appearance. */
export function citedNumbers(text: string): number[] {
  const seen: number[] = [];
  for (const segment of splitCitations(text)) {
    if (segment.type === "ref" && !seen.includes(segment.n)) seen.push(segment.n);
  }
  return seen;
}

const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** `{{name}}` variables a system prompt uses, in order, each once (the API's own pattern). */
export function promptVariables(prompt: string): string[] {
  const names: string[] = [];
  for (const match of prompt.matchAll(VARIABLE)) {
    const name = match[1] as string;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}
