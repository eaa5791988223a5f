// A workflow run's steps grouped by the node that took them (in the order the nodes first
// ran); steps of no node (an agent run's) form groups of their own.
export interface StepLike {
  node_id?: string | null;
  kind: string;
}

export interface StepGroup<T extends StepLike> {
  node_id: string | null;
  steps: T[];
}

export function groupStepsByNode<T extends StepLike>(steps: T[]): StepGroup<T>[] {
  const groups: StepGroup<T>[] = [];
  const byNode = new Map<string, StepGroup<T>>();
  for (const step of steps) {
    const id = step.node_id || null;
    if (id === null) {
      groups.push({ node_id: null, steps: [step] });
      continue;
    }
    let group = byNode.get(id);
    if (!group) {
      group = { node_id: id, steps: [] };
      byNode.set(id, group);
      groups.push(group);
    }
    group.steps.push(step);
  }
  return groups;
}

/** Whether a run's steps are a workflow's (some step names a node). */
export function isWorkflowRun(steps: StepLike[]): boolean {
  return steps.some((s) => Boolean(s.node_id));
}
