"""Discovery through entry points, and the isolation of every plugin's failure."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.plugins import discovery
from apps.plugins.discovery import Status, discover
from plugins.base import CONTRACT_VERSION

ROOT = Path(__file__).resolve().parents[2]

GOOD_TOOL = """
    from pydantic import BaseModel
    from plugins.base import Tool, ToolResult

    class Args(BaseModel):
        text: str

    class Echo(Tool):
        display_name = "Echo"
        description = "Says it back."
        Arguments = Args
        supported_contract = "{spec}"

        def invoke(self, arguments, context):
            return ToolResult(content=arguments.text)
"""


def test_built_ins_are_discovered_like_any_plugin():
    found = discover()
    for key in [("loader", "text"), ("tool", "calculator")]:
        item = found[key]
        assert item.status == Status.LOADED, item.error
        assert item.distribution == "ministudio"
        assert item.version == "0.1.0"


def test_a_plugin_whose_import_raises_is_failed_and_the_rest_still_load(distribution):
    (
        distribution("ministudio-broken")
        .module("ms_broken_plugin", "raise RuntimeError('no config file found')\n")
        .entry_point("tool", "broken", "ms_broken_plugin:Broken")
        .install()
    )
    found = discover()
    broken = found[("tool", "broken")]
    assert broken.status == Status.FAILED
    assert "RuntimeError: no config file found" in broken.error
    assert (broken.distribution, broken.version) == ("ministudio-broken", "1.0.0")
    assert found[("tool", "calculator")].status == Status.LOADED


def test_even_sys_exit_at_import_is_contained(distribution):
    (
        distribution("ministudio-exits")
        .module("ms_exiting_plugin", "import sys\nsys.exit(3)\n")
        .entry_point("loader", "exits", "ms_exiting_plugin:X")
        .install()
    )
    assert discover()[("loader", "exits")].status == Status.FAILED


def test_contract_violations_are_recorded(distribution):
    (
        distribution("ministudio-violations")
        .module(
            "ms_violations",
            """
            from plugins.base import Loader, Tool

            class NotAPlugin:
                pass

            class NoArguments(Tool):
                display_name = "No arguments"
                description = "Forgot its Arguments."

                def invoke(self, arguments, context):
                    return None

            class NoLoad(Loader):
                display_name = "No load"
                description = "Declares types but cannot load."
                file_extensions = (".x",)
            """,
        )
        .entry_point("tool", "not_a_plugin", "ms_violations:NotAPlugin")
        .entry_point("tool", "no_arguments", "ms_violations:NoArguments")
        .entry_point("loader", "no_load", "ms_violations:NoLoad")
        .entry_point("tool", "wrong_kind", "ms_violations:NoLoad")
        .install()
    )
    found = discover()
    expectations = {
        ("tool", "not_a_plugin"): "is not a Tool",
        ("tool", "no_arguments"): "declares Arguments",
        ("loader", "no_load"): "implements load()",
        ("tool", "wrong_kind"): "is not a Tool",
    }
    for key, reason in expectations.items():
        assert found[key].status == Status.FAILED
        assert reason in found[key].error, found[key].error


def test_an_unsupported_contract_version_is_incompatible(distribution):
    (
        distribution("ministudio-future")
        .module("ms_future", GOOD_TOOL.replace("{spec}", ">=2.0,<3"))
        .entry_point("tool", "future", "ms_future:Echo")
        .install()
    )
    item = discover()[("tool", "future")]
    assert item.status == Status.INCOMPATIBLE
    assert CONTRACT_VERSION in item.error
    assert item.plugin_class is None


def test_the_first_distribution_claiming_an_id_wins(distribution):
    for name in ("ministudio-echo-a", "ministudio-echo-b"):
        module = name.replace("-", "_")
        (
            distribution(name)
            .module(module, GOOD_TOOL.replace("{spec}", ">=1.0,<2"))
            .entry_point("tool", "echo", f"{module}:Echo")
            .install()
        )
    item = discover()[("tool", "echo")]
    assert item.status == Status.LOADED
    assert item.distribution in {"ministudio-echo-a", "ministudio-echo-b"}
    loser = ({"ministudio-echo-a", "ministudio-echo-b"} - {item.distribution}).pop()
    assert f"id also claimed by {loser} 1.0.0, which is ignored" in item.error


def test_discovery_is_cached_until_refreshed(distribution):
    first = discover()
    assert discover() is first
    late = (
        distribution("ministudio-late")
        .module("ms_late", GOOD_TOOL.replace("{spec}", ">=1.0,<2"))
        .entry_point("tool", "late", "ms_late:Echo")
        .install()  # install() refreshes, as `ministudio plugins sync` does
    )
    assert discover() is not first
    assert ("tool", "late") in discover()
    late.uninstall()
    assert ("tool", "late") not in discover()


def run(args: list[str], extra_path: Path | None = None, **env: str):
    paths = [str(ROOT / "platform"), str(ROOT)]
    if extra_path:
        paths.insert(0, str(extra_path))
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "MINISTUDIO_PLUGINS_STRICT": "0",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args], env=environment, capture_output=True, text=True, timeout=120
    )


def broken_site(distribution) -> Path:
    dist = (
        distribution("ministudio-broken")
        .module("ms_broken_plugin", "raise ImportError('needs libfoo')\n")
        .entry_point("tool", "broken", "ms_broken_plugin:Broken")
        .install()
    )
    return dist.root


def test_strict_mode_turns_a_failure_into_a_startup_error(distribution):
    site = broken_site(distribution)
    code = "import django; django.setup(); print('started')"
    relaxed = run(["-c", code], site)
    assert relaxed.returncode == 0 and "started" in relaxed.stdout, relaxed.stderr
    strict = run(["-c", code], site, MINISTUDIO_PLUGINS_STRICT="1")
    assert strict.returncode != 0
    assert "tool/broken: import failed: ImportError: needs libfoo" in strict.stderr


def test_plugins_list_prints_status_and_error(distribution):
    site = broken_site(distribution)
    table = run(["-m", "studio.cli", "plugins", "list"], site)
    assert table.returncode == 1  # a failed plugin is worth a non-zero exit
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "KIND", "VERSION", "DISTRIBUTION", "STATUS", "ERROR"]
    assert any(
        line.split()[:5] == ["calculator", "tool", "0.1.0", "ministudio", "loaded"]
        for line in lines
    )
    assert any("broken" in line and "failed" in line and "needs libfoo" in line for line in lines)

    as_json = run(["-m", "studio.cli", "plugins", "list", "--json"], site)
    rows = {row["id"]: row for row in json.loads(as_json.stdout)}
    assert rows["broken"]["status"] == "failed"
    assert rows["text"] == {
        "id": "text",
        "kind": "loader",
        "version": "0.1.0",
        "distribution": "ministudio",
        "status": "loaded",
        "error": "",
    }


def test_the_contract_imports_without_django():
    code = "import sys, plugins.base; assert not [m for m in sys.modules if m.startswith('django')]"
    result = run(["-c", code])
    assert result.returncode == 0, result.stderr


def test_a_secret_nested_in_settings_is_a_contract_violation(distribution):
    (
        distribution("ministudio-nested-secret")
        .module(
            "ms_nested_secret",
            """
            from pydantic import BaseModel, SecretStr
            from plugins.base import PluginSettings, Tool, ToolResult

            class Args(BaseModel):
                q: str

            class NestedSettings(PluginSettings):
                keys: list[SecretStr] = []

            class Nested(Tool):
                display_name = "Nested"
                description = "Keeps secrets in a list."
                Arguments = Args
                Settings = NestedSettings

                def invoke(self, arguments, context):
                    return ToolResult(content="")
            """,
        )
        .entry_point("tool", "nested", "ms_nested_secret:Nested")
        .install()
    )
    item = discover()[("tool", "nested")]
    assert item.status == Status.FAILED
    assert "settings field 'keys' nests a SecretStr" in item.error


def test_strict_sync_from_the_cli_says_why_in_one_line(distribution):
    site = broken_site(distribution)
    result = run(["-m", "studio.cli", "plugins", "sync"], site, MINISTUDIO_PLUGINS_STRICT="1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ministudio: MINISTUDIO_PLUGINS_STRICT is on")
    assert "tool/broken" in result.stderr


PROVIDERS = """
    from plugins.base import (
        Capability, EmbeddingResponse, ModelProvider, PluginSettings, SecretStr, Usage,
    )

    class ProviderSettings(PluginSettings):
        base_url: str = "http://127.0.0.1:9"
        api_key: SecretStr | None = None

    class Embedder(ModelProvider):
        display_name = "Embedder"
        description = "Embeds only."
        Settings = ProviderSettings
        capabilities = frozenset({Capability.EMBEDDINGS})

        def embed(self, request, settings):
            vectors = [[float(len(text))] for text in request.inputs]
            return EmbeddingResponse(vectors=vectors, usage=Usage(input_tokens=len(vectors)))

    class ClaimsChat(ModelProvider):
        display_name = "Claims chat"
        description = "Declares chat, implements nothing."
        capabilities = frozenset({Capability.CHAT})

    class Nothing(ModelProvider):
        display_name = "Nothing"
        description = "Declares no capability."
"""


def test_model_providers_declare_and_implement_capabilities(distribution):
    (
        distribution("ministudio-providers")
        .module("ms_providers", PROVIDERS)
        .entry_point("model", "embedder", "ms_providers:Embedder")
        .entry_point("model", "claims_chat", "ms_providers:ClaimsChat")
        .entry_point("model", "nothing", "ms_providers:Nothing")
        .install()
    )
    from plugins.base import ChatMessage, ChatRequest, EmbeddingRequest, UnsupportedCapability

    found = discover()
    assert "declares chat but does not implement chat()" in found[("model", "claims_chat")].error
    assert "at least one capability" in found[("model", "nothing")].error
    embedder_class = found[("model", "embedder")].plugin_class
    assert found[("model", "embedder")].status == Status.LOADED
    embedder = discovery.instance_of(embedder_class)
    settings = embedder_class.Settings()
    answer = embedder.embed(EmbeddingRequest(model="m", inputs=["ab", "abc"]), settings)
    assert answer.vectors == [[2.0], [3.0]]
    with pytest.raises(UnsupportedCapability, match="does not support chat"):
        embedder.chat(
            ChatRequest(model="m", messages=[ChatMessage(role="user", content="hi")]), settings
        )
