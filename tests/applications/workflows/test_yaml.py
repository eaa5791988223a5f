"""The YAML format: a versioned document that round-trips a workflow, read safely and
bounded in size."""

import pytest
import yaml

from apps.applications.models import AgentApp, AppKind
from apps.applications.workflow import yaml_format
from apps.applications.workflow.templates import TEMPLATES
from kernel.errors import InvalidParameter


@pytest.mark.parametrize("template_id", list(TEMPLATES))
def test_a_workflow_round_trips(template_id):
    original = TEMPLATES[template_id].definition("qwen-plus")
    app = AgentApp(name="Bot 机器人", description="Line one\nline two", kind=AppKind.WORKFLOW)
    app.draft = original
    text = yaml_format.dump(app)
    assert text.startswith("ministudio_workflow: 1\napp:\n")
    assert "机器人" in text  # written as is, not escaped
    name, description, definition = yaml_format.load(text)
    assert (name, description) == ("Bot 机器人", "Line one\nline two")
    again = yaml_format.load(yaml_format.dump_definition(name, description, definition))
    assert again[2] == definition
    assert [n["id"] for n in definition["nodes"]] == [n["id"] for n in original["nodes"]]
    assert definition["format_version"] == 1


def test_only_plain_yaml_is_read():
    text = "ministudio_workflow: !!python/object/apply:os.getpid []\n"
    with pytest.raises(InvalidParameter, match="cannot be read"):
        yaml_format.load(text)


def test_the_size_is_bounded():
    text = "ministudio_workflow: 1\n#" + "x" * yaml_format.MAX_BYTES
    with pytest.raises(InvalidParameter, match="larger than 1000 kB"):
        yaml_format.load(text)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"ministudio_workflow": 2, "app": {"name": "x"}, "workflow": {}}, "is newer than"),
        ({"ministudio_workflow": True, "app": {"name": "x"}, "workflow": {}}, "is missing"),
        ({"ministudio_workflow": 0, "app": {"name": "x"}, "workflow": {}}, "is not a version"),
        ({"ministudio_workflow": 1, "app": {"name": ""}, "workflow": {}}, "app.name"),
        ({"ministudio_workflow": 1, "app": {"name": "x", "x": 1}, "workflow": {}}, "app.x"),
        ({"ministudio_workflow": 1, "app": {"name": "x"}, "workflow": []}, "is missing"),
    ],
)
def test_bad_documents_are_named(document, message):
    with pytest.raises(InvalidParameter, match=message) as raised:
        yaml_format.load(yaml.safe_dump(document))
    assert raised.value.code == "WorkflowYamlInvalid"
    assert raised.value.status == 400
