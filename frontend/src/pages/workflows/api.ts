// The console API of workflow apps: node types, templates, the check, saving, creating,
// importing and exporting (typed by src/api/schema.d.ts).
import { useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { downloadAppYaml } from "../../api/download";
import { useWsKey } from "../../session/workspace";
import type { App } from "../apps/model";
import type { WorkflowDefinition } from "./definition";
import type { CheckResult } from "./problems";

export type AppKind = App["kind"];
export type NodeTypeInfo = Schemas["NodeTypeOut"];
export type WorkflowTemplate = Schemas["TemplateOut"];

/** An app's kind (apps from before workflows are agents). */
export function appKind(app: App): AppKind {
  return app.kind === "workflow" ? "workflow" : "agent";
}

export function useNodeTypes() {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("workflow", "node-types"), queryFn: () => call(api.GET("/console/api/workflow/node-types")), staleTime: Infinity });
}

export function useTemplates(enabled = true) {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("workflow", "templates"), queryFn: () => call(api.GET("/console/api/workflow/templates")), enabled, staleTime: Infinity });
}

export function checkWorkflow(appId: string, definition: WorkflowDefinition): Promise<CheckResult> {
  return call(api.POST("/console/api/apps/{app_id}/workflow/check", { params: { path: { app_id: appId } }, body: definition as unknown as Record<string, unknown> }));
}

export function saveWorkflowDraft(appId: string, definition: WorkflowDefinition): Promise<App> {
  return call(api.PUT("/console/api/apps/{app_id}/draft", { params: { path: { app_id: appId } }, body: definition as Schemas["WorkflowDefinition"] }));
}

export function createApp(body: { name: string; description: string; kind: AppKind; template?: string }): Promise<App> {
  return call(api.POST("/console/api/apps", { body }));
}

export function importApp(yaml: string, name?: string): Promise<App> {
  return call(api.POST("/console/api/apps/import", { body: name ? { yaml, name } : { yaml } }));
}

/** Download the app as YAML (GET /apps/{id}/export); resolves with the file's name. */
export function exportApp(app: App): Promise<string> {
  return downloadAppYaml(app.id, `${app.name.replace(/[^\w.-]+/g, "-") || app.id}.yaml`);
}
