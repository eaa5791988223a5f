// What the node panel offers: the node types' settings fields, the palette's types, and the
// workspace's chat models (the default one for new nodes), knowledge bases, tools and apps.
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import type { FieldSpec } from "../../components/schemaFields";
import { useKnowledgeBases } from "../KnowledgeBases";
import { useModels } from "../Models";
import { mcpToolGroups, useApps, useHttpTools, useMcpServers, useTools } from "../apps/model";
import { appKind, useNodeTypes } from "./api";
import { NODE_TYPES } from "./definition";
import type { SettingsContext } from "./SettingsForm";
import { settingsFields } from "./settings";

/** The node types the platform has: their fields, and the palette (its order, then new ones). */
export function useNodeCatalog() {
  const nodeTypes = useNodeTypes();
  return useMemo(() => {
    const fieldsByType: Record<string, FieldSpec[]> = {};
    for (const info of nodeTypes.data ?? []) fieldsByType[info.type] = settingsFields(info.settings_schema);
    const known = nodeTypes.data?.map((n) => n.type);
    const paletteTypes: string[] = known
      ? [...NODE_TYPES.filter((type) => known.includes(type)), ...known.filter((type) => !(NODE_TYPES as readonly string[]).includes(type))]
      : [...NODE_TYPES];
    return { fieldsByType, paletteTypes };
  }, [nodeTypes.data]);
}

/** The workspace's things a node's settings name (all but the variables, which the check gives). */
export function useWorkspaceChoices(appId: string): { defaultModel: string; choices: Omit<SettingsContext, "variables" | "disabled"> } {
  const { t } = useTranslation();
  const models = useModels();
  const kbs = useKnowledgeBases();
  const tools = useTools();
  const httpTools = useHttpTools();
  const mcpServers = useMcpServers();
  const apps = useApps();
  return useMemo(() => {
    const chatModels = (models.data ?? []).filter((m) => m.capabilities.includes("chat"));
    const published = (apps.data ?? []).filter((a) => a.published_version && a.id !== appId);
    return {
      defaultModel: (chatModels.find((m) => m.is_default) ?? chatModels[0])?.name ?? "",
      choices: {
        models: chatModels.map((m) => ({ value: m.name, label: m.display_name || m.name })),
        knowledgeBases: (kbs.data ?? []).map((kb) => ({ value: kb.id, label: kb.name })),
        tools: [
          { label: t("apps.configure.pluginTools"), options: (tools.data ?? []).map((tool) => ({ value: `plugin:${tool.id}`, label: tool.display_name || tool.id })) },
          { label: t("apps.configure.httpTools"), options: (httpTools.data ?? []).map((tool) => ({ value: `http:${tool.id}`, label: tool.name })) },
          ...mcpToolGroups(mcpServers.data),
          { label: t("workflow.panel.apps"), options: published.map((a) => ({ value: `app:${a.id}`, label: a.name })) },
        ],
        apps: published.filter((a) => appKind(a) === "agent").map((a) => ({ value: a.id, label: a.name })),
      },
    };
  }, [models.data, kbs.data, tools.data, httpTools.data, mcpServers.data, apps.data, appId, t]);
}
