// The check of a definition (POST /apps/{id}/workflow/check), run ~500 ms after the last
// change and on demand (before a save); an answer to an older definition is dropped.
import { useCallback, useEffect, useRef, useState } from "react";
import { checkWorkflow } from "./api";
import type { WorkflowDefinition } from "./definition";
import type { CheckResult } from "./problems";

export const CHECK_DELAY_MS = 500;

export function useWorkflowCheck(appId: string, definition: WorkflowDefinition, enabled: boolean) {
  const [result, setResult] = useState<CheckResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [checking, setChecking] = useState(false);
  const sequence = useRef(0);
  const json = JSON.stringify(definition);

  const run = useCallback(
    async (target: WorkflowDefinition): Promise<CheckResult | null> => {
      const mine = ++sequence.current;
      setChecking(true);
      try {
        const answer = await checkWorkflow(appId, target);
        if (mine === sequence.current) {
          setResult(answer);
          setError(null);
        }
        return answer;
      } catch (failure) {
        if (mine === sequence.current) setError(failure);
        return null;
      } finally {
        if (mine === sequence.current) setChecking(false);
      }
    },
    [appId],
  );

  useEffect(() => {
    if (!enabled) return;
    const timer = setTimeout(() => void run(JSON.parse(json) as WorkflowDefinition), CHECK_DELAY_MS);
    return () => clearTimeout(timer);
  }, [json, enabled, run]);

  return { result, error, checking, run };
}
