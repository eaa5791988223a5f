"""The gallery: workflow definitions to start from, each a function of the workspace's
default chat model (``""`` when it has none: validation then asks for one).

- ``blank``: a start joined to an end.
- ``intent_rag``: a question classifier sends the question to one of two knowledge
  retrievals; a variable aggregator takes whichever ran; an LLM answers from it. Its
  knowledge bases are left empty for the user to pick: until they do, validation names each
  retrieval node's missing knowledge base.
- ``document_summariser``: an LLM splits the start's ``document`` into sections (JSON of a
  schema); an iteration summarises each (``split.structured.sections``); an LLM combines
  the summaries.
- ``plan_and_solve``: a planner LLM writes ``{"steps": [...]}``; an iteration runs an agent
  (written inline, with the calculator tool) on each step; a last LLM writes the report
  (as ``tests/applications/workflows/test_orchestration.py`` runs it).

Definitions are plain data (the stored format), laid out left to right for the canvas.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.applications.workflow.definition import NEXT

X_STEP = 320


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    build: Callable[[str], dict[str, Any]]

    def definition(self, model: str) -> dict[str, Any]:
        return self.build(model)


def _node(
    node_id: str,
    type_: str,
    column: float,
    row: float = 0,
    *,
    title: str = "",
    parent: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id,
        "type": type_,
        "title": title,
        "position": {"x": column * X_STEP, "y": row * 160},
        "data": data,
    }
    if parent is not None:
        node["parent"] = parent
    return node


def _edge(source: str, target: str, handle: str = NEXT) -> dict[str, Any]:
    return {
        "id": f"{source}-{handle}-{target}",
        "source": source,
        "target": target,
        "source_handle": handle,
    }


def _chain(*ids: str) -> list[dict[str, Any]]:
    return [_edge(a, b) for a, b in itertools.pairwise(ids)]


def blank(model: str) -> dict[str, Any]:
    """What a new workflow app starts as: a start joined to an end."""
    return {
        "nodes": [
            _node("start", "start", 0, title="Start"),
            _node("end", "end", 1, title="End", output="{{ start.query }}"),
        ],
        "edges": _chain("start", "end"),
    }


def intent_rag(model: str) -> dict[str, Any]:
    answer_prompt = (
        "Answer the question from the passages below; say so when they do not answer it.\n\n"
        "Passages:\n{{ pick.output }}\n\nQuestion: {{ start.query }}"
    )
    return {
        "nodes": [
            _node("start", "start", 0, title="Start"),
            _node(
                "classify",
                "question_classifier",
                1,
                title="Which kind of question?",
                model=model,
                query="sys.query",
                classes=[
                    {"id": "product", "name": "Questions about the product and how to use it"},
                    {"id": "policy", "name": "Questions about orders, billing and policies"},
                ],
            ),
            _node(
                "product_docs",
                "knowledge_retrieval",
                2,
                -1,
                title="Product docs",
                query="sys.query",
                knowledge_base_ids=[],
            ),
            _node(
                "policy_docs",
                "knowledge_retrieval",
                2,
                1,
                title="Policies",
                query="sys.query",
                knowledge_base_ids=[],
            ),
            _node(
                "pick",
                "variable_aggregator",
                3,
                title="Passages found",
                variables=["product_docs.text", "policy_docs.text"],
                type="string",
            ),
            _node("answer", "llm", 4, title="Answer", model=model, prompt=answer_prompt),
            _node("end", "end", 5, title="End", output="{{ answer.text }}"),
        ],
        "edges": [
            _edge("start", "classify"),
            _edge("classify", "product_docs", "product"),
            _edge("classify", "policy_docs", "policy"),
            _edge("product_docs", "pick"),
            _edge("policy_docs", "pick"),
            *_chain("pick", "answer", "end"),
        ],
    }


SECTIONS_SCHEMA = {
    "type": "object",
    "properties": {
        "sections": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The full text of each section, in order.",
        }
    },
    "required": ["sections"],
}
STEPS_SCHEMA = {
    "type": "object",
    "properties": {
        "steps": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 8}
    },
    "required": ["steps"],
}


def document_summariser(model: str) -> dict[str, Any]:
    return {
        "nodes": [
            _node(
                "start",
                "start",
                0,
                title="Start",
                variables=[
                    {
                        "name": "document",
                        "type": "string",
                        "required": True,
                        "description": "The text to summarise.",
                    }
                ],
            ),
            _node(
                "split",
                "llm",
                1,
                title="Split into sections",
                model=model,
                system_prompt=(
                    "Split the document into its sections, in order. Reply with JSON: "
                    '{"sections": ["the full text of each section", ...]}.'
                ),
                prompt="{{ start.document }}",
                json_schema=SECTIONS_SCHEMA,
            ),
            _node(
                "each_section",
                "iteration",
                3,
                title="Summarise each section",
                items="split.structured.sections",
                concurrency=4,
                output="summarise.text",
            ),
            _node(
                "summarise",
                "llm",
                0,
                title="Summarise the section",
                parent="each_section",
                model=model,
                prompt=(
                    "Summarise this section in two or three sentences:\n\n{{ each_section.item }}"
                ),
            ),
            _node(
                "combine",
                "llm",
                4,
                title="Combine",
                model=model,
                prompt=(
                    "Write one summary of the document from these section summaries, "
                    "in order:\n\n{{ each_section.results }}"
                ),
            ),
            _node("end", "end", 5, title="End", output="{{ combine.text }}"),
        ],
        "edges": _chain("start", "split", "each_section", "combine", "end"),
    }


def plan_and_solve(model: str) -> dict[str, Any]:
    """A planner writes the steps (structured output), an agent with a calculator carries
    out each step in turn (an iteration over ``plan.structured.steps``), and a last model
    call writes the report from the plan and the steps' results."""
    solver = {
        "model": model,
        "system_prompt": (
            "You carry out one step of a plan. Use your tools when they help; reply with the "
            "step's result only."
        ),
        "tools": [{"type": "plugin", "id": "calculator"}],
        "memory_rounds": 0,
    }
    return {
        "nodes": [
            _node("start", "start", 0, title="Start"),
            _node(
                "plan",
                "llm",
                1,
                title="Plan",
                model=model,
                system_prompt="Break the task into short, ordered steps. Reply with JSON only.",
                prompt="Task: {{ sys.query }}",
                json_schema=STEPS_SCHEMA,
            ),
            _node(
                "steps",
                "iteration",
                2,
                title="Carry out each step",
                items="plan.structured.steps",
                output="solve.text",
            ),
            _node(
                "solve",
                "agent",
                0,
                title="Solve the step",
                parent="steps",
                agent=solver,
                prompt="Task: {{ sys.query }}\nStep {{ steps.index }}: {{ steps.item }}",
            ),
            _node(
                "report",
                "llm",
                3,
                title="Report",
                model=model,
                system_prompt="You write the final report of a task.",
                prompt=(
                    "Task: {{ sys.query }}\nPlan: {{ plan.text }}\n"
                    "Results, step by step: {{ steps.results }}\nWrite the report."
                ),
            ),
            _node("end", "end", 4, title="End", output="{{ report.text }}"),
        ],
        "edges": _chain("start", "plan", "steps", "report", "end"),
    }


TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template(
            "intent_rag",
            "Intent routing with knowledge",
            "Classify the question, search the knowledge base for its kind, answer from "
            "what was found. Pick a knowledge base for each retrieval node.",
            intent_rag,
        ),
        Template(
            "document_summariser",
            "Document summariser",
            "Split a document into sections, summarise each, combine the summaries.",
            document_summariser,
        ),
        Template(
            "plan_and_solve",
            "Plan and solve",
            "Plan the task in steps, let an agent carry out each step, report.",
            plan_and_solve,
        ),
    )
}
