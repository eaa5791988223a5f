"""Searching the agent app's knowledge bases, as a tool the model decides to call.

The platform hands the tool a ``search_knowledge`` function when it runs inside an app
with knowledge bases attached (``ToolContext.search_knowledge``); the search uses the
app's retrieval settings and filters, and numbers every passage as one of the answer's
sources, so the model cites what it read as ``<ref>[n]</ref>``.
"""

from pydantic import BaseModel, Field

from plugins.base import PluginSettings, Tool, ToolContext, ToolResult


class KnowledgeSearchArguments(BaseModel):
    query: str = Field(min_length=1, max_length=1000, description="What to look for.")
    top_k: int = Field(5, ge=1, le=20, description="How many passages to return.")


class KnowledgeSearch(Tool):
    display_name = "Knowledge search"
    description = (
        "Search the app's knowledge bases for passages about a question. Returns numbered "
        "passages; cite the ones you use as <ref>[n]</ref>."
    )
    Arguments = KnowledgeSearchArguments
    Settings = PluginSettings
    enabled_by_default = True
    timeout_seconds = 30.0

    def invoke(self, arguments: KnowledgeSearchArguments, context: ToolContext) -> ToolResult:
        """Search with the app's settings; outside an app there is nothing to search."""
        if context.search_knowledge is None:
            return ToolResult(
                content="knowledge_search works only inside an agent app with knowledge bases.",
                is_error=True,
            )
        passages = context.search_knowledge(arguments.query, arguments.top_k)
        if not passages:
            return ToolResult(content="No passage matches this query.", data=[])
        blocks = []
        for passage in passages:
            where = f", page {passage.page}" if passage.page else ""
            blocks.append(f"[{passage.reference}] {passage.document_name}{where}\n{passage.text}")
        return ToolResult(content="\n\n".join(blocks), data=[p.model_dump() for p in passages])
