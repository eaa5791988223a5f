"""The template transform node: Jinja2 over the variables it names, in a sandbox; a template
that does not compile is a settings error; unsafe access and runtime errors fail the node."""

import pytest
from pydantic import ValidationError

from apps.applications.models import Run
from apps.applications.workflow.engine import WorkflowNodeFailed
from apps.applications.workflow.nodes.template_transform import (
    OUTPUT_LIMIT,
    TemplateTransformSettings,
)
from tests.applications.workflows.conftest import chain, definition, node, node_outputs, run, text

pytestmark = pytest.mark.django_db


def transform(template: str, variables: dict[str, str]) -> dict:
    """start (a list input ``items``, a text input ``title``) → transform → end."""
    return definition(
        [
            node(
                "start",
                "start",
                variables=[
                    {"name": "items", "type": "array", "default": ["tea", "coffee"]},
                    {"name": "title", "type": "string", "default": "Drinks"},
                ],
            ),
            node("t", "template_transform", template=template, variables=variables),
            node("end", "end", output="{{ t.output }}"),
        ],
        chain("start", "t", "end"),
    )


def test_a_template_loops_over_a_list_variable(workflow_app):
    app = workflow_app(
        transform(
            "# {{ heading }}\n{% for item in items %}{{ loop.index }}. {{ item | upper }}\n"
            "{% endfor %}",
            {"items": "start.items", "heading": "start.title"},
        )
    )
    events = run(app)
    assert node_outputs(events)["t"] == {"output": "# Drinks\n1. TEA\n2. COFFEE\n"}
    assert text(events) == "# Drinks\n1. TEA\n2. COFFEE\n"
    [step] = [s for s in Run.objects.get().steps.all() if s.node_id == "t"]
    assert step.input == {"start.items": ["tea", "coffee"], "start.title": "Drinks"}


def test_the_template_form_of_a_variable_is_accepted():
    settings = TemplateTransformSettings.model_validate(
        {"template": "{{ x }}", "variables": {"x": "{{ llm_1.text }}"}}
    )
    assert settings.variables == {"x": "llm_1.text"}


def test_a_syntax_error_is_a_settings_error():
    with pytest.raises(ValidationError, match=r"template: line 1: .*endfor"):
        TemplateTransformSettings.model_validate(
            {"template": "{% for x in items %}{{ x }}", "variables": {"items": "start.items"}}
        )


def test_a_name_the_variables_do_not_give_is_a_settings_error():
    with pytest.raises(ValidationError, match="uses secret, which variables does not name"):
        TemplateTransformSettings.model_validate({"template": "{{ secret }}", "variables": {}})


@pytest.mark.parametrize(
    "variables",
    [{"x": "not a reference"}, {"1x": "start.title"}],
)
def test_bad_variables_are_settings_errors(variables):
    with pytest.raises(ValidationError):
        TemplateTransformSettings.model_validate({"template": "hi", "variables": variables})


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ title.__class__.__base__.__subclasses__() }}",
        "{{ items.append('x') }}",
    ],
)
def test_a_sandbox_escape_is_refused(workflow_app, template):
    app = workflow_app(transform(template, {"items": "start.items", "title": "start.title"}))
    with pytest.raises(WorkflowNodeFailed, match=r"Node 't' \(template_transform\): .*unsafe"):
        run(app)
    assert Run.objects.get().status == "failed"


def test_a_runtime_error_fails_the_node_with_its_message(workflow_app):
    app = workflow_app(transform("{{ title / 0 }}", {"title": "start.title"}))
    with pytest.raises(WorkflowNodeFailed, match="the template failed: TypeError"):
        run(app)


def test_an_undefined_attribute_fails_the_node(workflow_app):
    app = workflow_app(transform("{{ title.missing }}", {"title": "start.title"}))
    with pytest.raises(WorkflowNodeFailed, match="has no attribute 'missing'"):
        run(app)


def test_an_output_over_the_limit_fails_the_node(workflow_app):
    app = workflow_app(
        transform("{% for i in range(100000) %}{{ title }}{% endfor %}", {"title": "start.title"})
    )
    with pytest.raises(WorkflowNodeFailed, match=f"more than {OUTPUT_LIMIT:,} characters"):
        run(app)


def test_a_variable_that_has_no_value_fails_the_node(workflow_app):
    app = workflow_app(transform("{{ x }}", {"x": "ghost.text"}))
    with pytest.raises(WorkflowNodeFailed, match=r"ghost\.text has no value"):
        run(app)
