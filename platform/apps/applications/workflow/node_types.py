"""Every node type, by the ``type`` a definition names it with."""

from apps.applications.workflow.nodes.agent import Agent
from apps.applications.workflow.nodes.answer import Answer
from apps.applications.workflow.nodes.base import Node
from apps.applications.workflow.nodes.condition import Condition
from apps.applications.workflow.nodes.end import End
from apps.applications.workflow.nodes.http_request import HttpRequest
from apps.applications.workflow.nodes.human_input import HumanInput
from apps.applications.workflow.nodes.iteration import Iteration
from apps.applications.workflow.nodes.knowledge_retrieval import KnowledgeRetrieval
from apps.applications.workflow.nodes.llm import Llm
from apps.applications.workflow.nodes.parameter_extractor import ParameterExtractor
from apps.applications.workflow.nodes.question_classifier import QuestionClassifier
from apps.applications.workflow.nodes.start import Start
from apps.applications.workflow.nodes.template_transform import TemplateTransform
from apps.applications.workflow.nodes.tool import Tool
from apps.applications.workflow.nodes.variable_aggregator import VariableAggregator

NODE_TYPES: dict[str, Node] = {
    kind.type: kind
    for kind in (
        Start(),
        End(),
        Answer(),
        Llm(),
        Condition(),
        KnowledgeRetrieval(),
        Tool(),
        HttpRequest(),
        TemplateTransform(),
        VariableAggregator(),
        QuestionClassifier(),
        ParameterExtractor(),
        Iteration(),
        HumanInput(),
        Agent(),
    )
}


def node_type(name: str) -> Node:
    """The node type ``name``; validation refuses a definition naming an unknown one."""
    return NODE_TYPES[name]
