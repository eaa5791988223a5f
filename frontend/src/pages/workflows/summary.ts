// One line a node shows under its title: what it is set to do (its model, text, URL…).
const MAX = 60;

function clip(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MAX ? `${flat.slice(0, MAX - 1)}…` : flat;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

export function nodeSummary(type: string, settings: Record<string, unknown>): string {
  switch (type) {
    case "llm":
    case "question_classifier":
    case "parameter_extractor":
      return clip(str(settings.model));
    case "answer":
      return clip(str(settings.text));
    case "end":
      return clip(str(settings.output));
    case "human_input":
      return clip(str(settings.question));
    case "template_transform":
      return clip(str(settings.template));
    case "http_request":
      return clip(`${str(settings.method) || "GET"} ${str(settings.url)}`);
    case "iteration":
      return clip(str(settings.items));
    case "knowledge_retrieval":
      return Array.isArray(settings.knowledge_base_ids) && settings.knowledge_base_ids.length ? `${settings.knowledge_base_ids.length} × KB` : "";
    case "tool": {
      const tool = settings.tool as { type?: unknown; id?: unknown } | null | undefined;
      return tool && typeof tool.id === "string" ? clip(`${str(tool.type)}:${tool.id}`) : "";
    }
    case "start": {
      const names = Array.isArray(settings.variables) ? settings.variables.map((v) => str((v as { name?: unknown })?.name)).filter(Boolean) : [];
      return clip(names.join(", "));
    }
    case "variable_aggregator":
      return Array.isArray(settings.variables) ? clip(settings.variables.map(str).join(" | ")) : "";
    default:
      return "";
  }
}
