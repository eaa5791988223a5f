"""The text an app's model reads: its system prompt with the variables filled in, the
sources retrieval found, and — for models without native tool calling — the ReAct
instructions."""

import json

from apps.applications.config import VARIABLE, AppConfigSchema
from kernel.errors import InvalidParameter
from plugins.base import Passage, ToolSpec

CITE = (
    "Answer from the sources below when they help. Cite a source right after the sentence "
    "that uses it, as <ref>[n]</ref> with the source's number. If the sources do not "
    "contain the answer, say so."
)
USE_WITHOUT_CITING = (
    "Answer from the information below when it helps. If it does not contain the answer, say so."
)


def fill_variables(config: AppConfigSchema, values: dict[str, object]) -> str:
    """The system prompt with each ``{{name}}`` replaced: the caller's value, else the
    variable's default; a required variable without either is an error."""
    declared = {v.name: v for v in config.variables}
    missing = [
        v.name
        for v in config.variables
        if v.required and values.get(v.name) in (None, "") and not v.default
    ]
    if missing:
        raise InvalidParameter(
            "input.biz_params.user_prompt_params: give "
            + ", ".join(repr(name) for name in missing)
            + " (required by the app's prompt)."
        )

    def value_of(match) -> str:
        name = match.group(1)
        given = values.get(name)
        if given not in (None, ""):
            return str(given)
        variable = declared.get(name)
        return variable.default or "" if variable else ""

    return VARIABLE.sub(value_of, config.system_prompt)


def sources_block(passages: list[Passage], *, cite: bool) -> str:
    """The passages as the system prompt lists them, numbered when they are to be cited."""
    lines = [CITE if cite else USE_WITHOUT_CITING, ""]
    for passage in passages:
        where = f" (page {passage.page})" if passage.page else ""
        label = f"[{passage.reference}] " if cite else "- "
        lines.append(f"{label}{passage.document_name}{where}\n{passage.text}\n")
    return "\n".join(lines).rstrip()


def react_instructions(tools: list[ToolSpec]) -> str:
    """How a model without native tool calling asks for a tool (the ReAct format)."""
    described = "\n".join(
        f"- {tool.name}: {tool.description}\n  arguments (JSON Schema): "
        f"{json.dumps(tool.parameters, ensure_ascii=False)}"
        for tool in tools
    )
    return (
        "You can use these tools:\n"
        f"{described}\n\n"
        "To use a tool, reply with exactly these three lines and then stop:\n"
        "Thought: why you need the tool\n"
        "Action: the tool's name\n"
        "Action Input: the arguments, as one JSON object\n\n"
        'You will then receive "Observation: <the result>". When you can answer, reply:\n'
        "Thought: what you concluded\n"
        "Final Answer: your answer to the user"
    )


REACT_ANSWER_NOW = (
    "You may not use any more tools. Reply now with your Final Answer, from what you know."
)
