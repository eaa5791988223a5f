// Apps: types, queries and the draft's defaults, shared by the app pages.
import { useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { useWsKey } from "../../session/workspace";

export type App = Schemas["AppOut"];
export type AppConfig = Schemas["AppConfigSchema"];
export type Knowledge = Schemas["KnowledgeSettings"];
export type Variable = Schemas["Variable"];
export type ToolType = Schemas["ToolReference"]["type"];
export type McpServer = Schemas["McpServerOut"];
export type McpTool = Schemas["McpToolOut"];

export const DEFAULT_KNOWLEDGE: Knowledge = {
  knowledge_base_ids: [],
  show_sources: true,
  auto_retrieve: true,
  as_tool: false,
  mode: null,
  top_k: 5,
  score_threshold: null,
  rerank: null,
};

/** A draft as stored (possibly incomplete) → a whole configuration with the documented defaults. */
export function normalizeConfig(draft: Record<string, unknown> | undefined): AppConfig {
  const d = (draft ?? {}) as Partial<AppConfig>;
  return {
    model: d.model ?? "",
    system_prompt: d.system_prompt ?? "You are a helpful assistant.",
    variables: d.variables ?? [],
    knowledge: { ...DEFAULT_KNOWLEDGE, ...(d.knowledge ?? {}) },
    tools: d.tools ?? [],
    parameters: { temperature: null, top_p: null, max_tokens: null, ...(d.parameters ?? {}) },
    memory_rounds: d.memory_rounds ?? 10,
    max_iterations: d.max_iterations ?? 5,
    tool_calling: d.tool_calling ?? "auto",
  };
}

export function useApps() {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("apps"), queryFn: () => call(api.GET("/console/api/apps")) });
}

export function useApp(id: string) {
  const wsKey = useWsKey();
  return useQuery({
    queryKey: wsKey("apps", id),
    queryFn: () => call(api.GET("/console/api/apps/{app_id}", { params: { path: { app_id: id } } })),
  });
}

export function useTools() {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("tools"), queryFn: () => call(api.GET("/console/api/tools")) });
}

export function useHttpTools() {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("http-tools"), queryFn: () => call(api.GET("/console/api/http-tools")) });
}

export function useMcpServers() {
  const wsKey = useWsKey();
  return useQuery({ queryKey: wsKey("mcp-servers"), queryFn: () => call(api.GET("/console/api/mcp-servers")) });
}

export interface ToolOptionGroup {
  label: string;
  options: { value: string; label: string; title?: string }[];
}

/** A tool picker's MCP groups: one per server ("MCP · <server>"), its enabled tools as
 * `mcp:<tool id>`; servers with no enabled tool are left out. */
export function mcpToolGroups(servers: readonly Pick<McpServer, "name" | "tools">[] | undefined): ToolOptionGroup[] {
  return (servers ?? [])
    .map((server) => ({
      label: `MCP · ${server.name}`,
      options: server.tools
        .filter((tool) => tool.enabled)
        .map((tool) => {
          const description = tool.description.length > 80 ? `${tool.description.slice(0, 79)}…` : tool.description;
          return { value: `mcp:${tool.id}`, label: description ? `${tool.name} · ${description}` : tool.name, title: tool.description || tool.name };
        }),
    }))
    .filter((group) => group.options.length > 0);
}
