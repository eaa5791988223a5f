// The console API of workflow apps: node types, templates, the check, import and export.
// Requests go through `consoleJson` (cookies, X-Workspace, CSRF, errors as ApiError).
import { useQuery } from "@tanstack/react-query";
import { consoleHeaders, ensureCsrfCookie, reportUnauthenticated } from "../../api/client";
import { filenameFromDisposition, saveBlob } from "../../api/download";
import { apiErrorFromResponse } from "../../api/errors";
import { useWsKey } from "../../session/workspace";
import type { App } from "../apps/model";
import type { WorkflowDefinition } from "./definition";
import type { CheckResult } from "./problems";

export type AppKind = "agent" | "workflow";

export interface NodeTypeInfo {
  type: string;
  settings_schema: Record<string, unknown>;
}

export interface WorkflowTemplate {
  id: string;
  name: string;
  description: string;
  definition: WorkflowDefinition;
}

/** An app's kind (apps from before workflows are agents). */
export function appKind(app: App): AppKind {
  return (app as App & { kind?: AppKind }).kind === "workflow" ? "workflow" : "agent";
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  if (method !== "GET") await ensureCsrfCookie();
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...consoleHeaders(method) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const error = await apiErrorFromResponse(response);
    reportUnauthenticated(error);
    throw error;
  }
  return response;
}

export async function consoleJson<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(method, path, body);
  return (await response.json()) as T;
}

export function useNodeTypes() {
  const wsKey = useWsKey();
  return useQuery({
    queryKey: wsKey("workflow", "node-types"),
    queryFn: () => consoleJson<NodeTypeInfo[]>("GET", "/console/api/workflow/node-types"),
    staleTime: Infinity,
  });
}

export function useTemplates(enabled = true) {
  const wsKey = useWsKey();
  return useQuery({
    queryKey: wsKey("workflow", "templates"),
    queryFn: () => consoleJson<WorkflowTemplate[]>("GET", "/console/api/workflow/templates"),
    enabled,
    staleTime: Infinity,
  });
}

export function checkWorkflow(appId: string, definition: WorkflowDefinition): Promise<CheckResult> {
  return consoleJson<CheckResult>("POST", `/console/api/apps/${appId}/workflow/check`, definition);
}

export function saveWorkflowDraft(appId: string, definition: WorkflowDefinition): Promise<App> {
  return consoleJson<App>("PUT", `/console/api/apps/${appId}/draft`, definition);
}

export function createApp(body: { name: string; description: string; kind: AppKind; template?: string }): Promise<App> {
  return consoleJson<App>("POST", "/console/api/apps", body);
}

export function importApp(yaml: string, name?: string): Promise<App> {
  return consoleJson<App>("POST", "/console/api/apps/import", name ? { yaml, name } : { yaml });
}

/** Download the app as YAML (GET /apps/{id}/export); resolves with the file's name. */
export async function exportApp(app: App): Promise<string> {
  const response = await send("GET", `/console/api/apps/${app.id}/export`);
  const fallback = `${app.name.replace(/[^\w.-]+/g, "-") || app.id}.yaml`;
  const name = filenameFromDisposition(response.headers.get("Content-Disposition"), fallback);
  saveBlob(await response.blob(), name);
  return name;
}
