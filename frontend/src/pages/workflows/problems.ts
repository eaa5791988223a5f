// The check's problems (POST /apps/{id}/workflow/check) by node, for the canvas, and those of
// no node (or of a node no longer there) for the list only.
export interface Problem {
  node_id: string | null;
  setting: string | null;
  message: string;
}

export interface CheckResult {
  problems: Problem[];
  variables: Record<string, Record<string, string>>;
}

/** One line a problem shows as: the setting it is about, then the message. */
export function problemText(problem: Problem): string {
  return problem.setting ? `${problem.setting}: ${problem.message}` : problem.message;
}

export function problemsByNode(problems: Problem[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of problems) {
    if (p.node_id) (out[p.node_id] ??= []).push(problemText(p));
  }
  return out;
}

/** The variables a node's settings may read, as `node_id.output` choices (sys first). */
export function variableChoices(variables: Record<string, Record<string, string>>, exclude?: string): { value: string; type: string }[] {
  const out = [
    { value: "sys.query", type: "string" },
    { value: "sys.session_id", type: "string" },
  ];
  for (const [node, outputs] of Object.entries(variables)) {
    if (node === "sys" || node === exclude) continue;
    for (const [name, type] of Object.entries(outputs)) out.push({ value: `${node}.${name}`, type });
  }
  return out;
}
