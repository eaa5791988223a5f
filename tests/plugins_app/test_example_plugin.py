"""The example third-party plugin, pip-installed by the test command, end to end:
discovered, synced, invisible until enabled, configured per workspace, invoked, used."""

from email.message import EmailMessage

import pytest

from apps.plugins.discovery import Status, discover, instance_of
from apps.plugins.models import Plugin
from plugins.base import LoaderInput
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db
DISTRIBUTION = "ministudio-plugin-example"


@pytest.fixture
def example():
    found = discover()
    for key in [("tool", "unit_converter"), ("loader", "eml")]:
        assert key in found, (
            f"{DISTRIBUTION} is not installed: run the README's test command, which "
            "pip-installs ./examples/ministudio-plugin-example"
        )
    return found


def test_the_example_is_discovered_from_its_own_distribution(example):
    for key in [("tool", "unit_converter"), ("loader", "eml")]:
        item = example[key]
        assert item.status == Status.LOADED, item.error
        assert (item.distribution, item.version) == (DISTRIBUTION, "0.1.0")


def test_sync_records_it_disabled_by_default(example, synced):
    tool = Plugin.objects.get(kind="tool", plugin_id="unit_converter")
    assert (tool.status, tool.distribution, tool.enabled_by_default) == (
        "loaded",
        DISTRIBUTION,
        False,
    )
    assert set(tool.manifest["parameters"]["required"]) == {"value", "from_unit", "to_unit"}
    assert "precision" in tool.settings_schema["properties"]


def test_enabled_nowhere_it_is_invisible(example, synced, alice):
    console = ConsoleClient().as_user(alice, "acme")
    assert "unit_converter" not in [t["id"] for t in console.get("/tools").json()]
    response = console.post(
        "/tools/unit_converter/invoke",
        {"arguments": {"value": 1, "from_unit": "km", "to_unit": "m"}},
    )
    assert response.status_code == 404


def test_one_workspace_enables_and_configures_it_and_uses_it(example, synced, alice, bob):
    acme = ConsoleClient().as_user(alice, "acme")
    response = acme.patch(
        "/plugins/tool/unit_converter", {"enabled": True, "settings": {"precision": 2}}
    )
    assert response.status_code == 200, response.content
    assert response.json()["settings"] == {"precision": 2}
    assert "unit_converter" in [t["id"] for t in acme.get("/tools").json()]

    answer = acme.post(
        "/tools/unit_converter/invoke",
        {"arguments": {"value": 1, "from_unit": "mi", "to_unit": "km"}},
    ).json()
    assert (answer["is_error"], answer["content"]) == (False, "1.61 km")

    mistake = acme.post(
        "/tools/unit_converter/invoke",
        {"arguments": {"value": 1, "from_unit": "m", "to_unit": "kg"}},
    ).json()
    assert mistake["is_error"] is True

    bad = acme.post("/tools/unit_converter/invoke", {"arguments": {"value": "lots"}})
    assert bad.status_code == 400
    assert "arguments.value" in bad.json()["message"]

    globex = ConsoleClient().as_user(bob, "globex")
    assert "unit_converter" not in [t["id"] for t in globex.get("/tools").json()]
    assert globex.get("/plugins/tool/unit_converter").json()["enabled"] is False


def test_a_bad_setting_is_refused_with_its_field(example, synced, alice):
    response = (
        ConsoleClient()
        .as_user(alice, "acme")
        .patch("/plugins/tool/unit_converter", {"settings": {"precision": 99}})
    )
    assert response.status_code == 400
    assert "settings.precision" in response.json()["message"]


def test_its_loader_reads_an_email(example):
    message = EmailMessage()
    message["Subject"] = "Quarterly numbers"
    message["From"] = "cfo@example.com"
    message["To"] = "team@example.com"
    message.set_content("Revenue is up.\n\nCosts are down.")
    loader_class = example[("loader", "eml")].plugin_class
    elements = instance_of(loader_class).load(
        LoaderInput(filename="q.eml", media_type="message/rfc822", data=message.as_bytes()),
        loader_class.Settings(),
    )
    assert elements[0].type == "title" and elements[0].text == "Quarterly numbers"
    assert [e.text for e in elements if e.type == "paragraph"] == [
        "Revenue is up.",
        "Costs are down.",
    ]
