"""diagnostics_shell runs the allow-listed forms for real, confined, and nothing else."""

from __future__ import annotations

import os
import re
import shutil
import socket

import pytest
from pydantic import ValidationError

from plugins.base import ToolContext
from plugins.tools import diagnostics_shell
from plugins.tools.diagnostics_shell import (
    COMMANDS,
    DiagnosticsShell,
    DiagnosticsShellArguments,
    DiagnosticsShellSettings,
    allow_list,
    validate,
)


def run(command, **settings):
    context = ToolContext(settings=DiagnosticsShellSettings(**settings), workspace="acme")
    return DiagnosticsShell().invoke(DiagnosticsShellArguments(command=command), context)


def installed(name):
    return shutil.which(name, path=diagnostics_shell.SAFE_PATH) is not None


def test_it_satisfies_the_contract():
    DiagnosticsShell.check_contract()
    assert DiagnosticsShell.parameters_schema()["required"] == ["command"]
    assert DiagnosticsShell.enabled_by_default is False
    # The host is every workspace's: only a platform admin switches it on.
    assert DiagnosticsShell.requires_platform_admin is True
    assert DiagnosticsShell.timeout_seconds > diagnostics_shell.RUN_TIMEOUT_SECONDS
    # The settings' names and the table cannot drift apart.
    names = DiagnosticsShellSettings.model_json_schema()["properties"]["extra_disabled"]
    assert set(names["items"]["enum"]) == set(COMMANDS)


ALLOWED = [
    "ps aux",
    "ps -ef",
    "ps -eo pid,ppid,user,%cpu,%mem,rss,stat,etime,comm",
    "ps -eo pid,comm,%cpu --sort=-%cpu",
    "top -b -n 1",
    "df -h",
    "df -h /",
    "free -m",
    "free -h",
    "uptime",
    "ss -tlnp",
    "ss -tunlp",
    "ss -s",
    "uname -a",
    "uname -r",
    "hostname",
    "nproc",
    "cat /proc/loadavg",
    "cat /proc/meminfo",
    "lscpu",
    "ip addr",
    "ip route",
]


def test_every_form_in_the_table_is_exercised():
    # Each allow-list form (with its placeholders) has a concrete case above.
    covered = {re.sub(r" /$", " <absolute path>", command) for command in ALLOWED}
    covered = {re.sub(r"-eo \S+", "-eo <columns>", c) for c in covered}
    covered = {re.sub(r"--sort=\S+", "--sort=[-]<column>", c) for c in covered}
    assert covered == set(allow_list())


@pytest.mark.parametrize("command", ALLOWED)
def test_allowed_commands_run(command):
    result = run(command)
    name = command.split()[0]
    if not installed(name):
        assert result.is_error and f"'{name}' is not installed on this server" in result.content
        return
    assert not result.is_error, result.content
    assert result.content.startswith(f"$ {command}\n")
    assert result.data["exit_code"] == 0
    assert result.data["command"] == command.split()
    assert result.data["stdout"].strip()


@pytest.mark.skipif(not installed("cat"), reason="cat is not installed")
def test_outputs_are_the_real_thing():
    assert re.fullmatch(
        r"[\d.]+ [\d.]+ [\d.]+ \d+/\d+ \d+\n", run("cat /proc/loadavg").data["stdout"]
    )
    assert "MemTotal:" in run("cat /proc/meminfo").data["stdout"]
    assert run("uname -r").data["stdout"].strip() == os.uname().release
    assert run("hostname").data["stdout"].strip() == socket.gethostname()
    assert run("nproc").data["stdout"].strip() == str(len(os.sched_getaffinity(0)))
    processes = run("ps -eo pid,comm").data["stdout"]
    assert re.search(rf"^\s*{os.getpid()}\s", processes, re.MULTILINE)


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("rm -rf /", "'rm' is not an allowed command"),
        ("sh -c 'ps aux'", "'sh' is not an allowed command"),
        ("/bin/ps aux", "'/bin/ps' is not an allowed command"),
        ("PS aux", "'PS' is not an allowed command"),
        ("ps aux | grep root", "shell syntax"),
        ("ps aux; id", "shell syntax"),
        ("ps aux && id", "shell syntax"),
        ("ps $(id)", "shell syntax"),
        ("ps `id`", "shell syntax"),
        ("df -h > /tmp/x", "shell syntax"),
        ("cat /proc/*", "shell syntax"),
        ("ps aux\nid", "shell syntax"),
        ("ps 'aux", "cannot split the command line"),
        ("   ", "the command is empty"),
        ("ps", "not an allowed form of ps"),
        ("ps aux extra", "not an allowed form of ps"),
        ("ps -eo pid,environ", "not an allowed form of ps"),
        ("ps -eo pid,comm --sort=-environ", "not an allowed form of ps"),
        ("ps -eo pid,,comm", "not an allowed form of ps"),
        ("top", "not an allowed form of top"),
        ("top -b -n 1000", "not an allowed form of top"),
        ("cat /etc/passwd", "not an allowed form of cat"),
        ("cat /proc/self/environ", "not an allowed form of cat"),
        ("cat /proc/loadavg /etc/shadow", "not an allowed form of cat"),
        ("df -h relative/path", "not an allowed form of df"),
        ("df -h /tmp/../etc", "not an allowed form of df"),
        ("df -h /..", "not an allowed form of df"),
        ("df -h /tmp /var", "not an allowed form of df"),
        ("df -h '/tmp x'", "not an allowed form of df"),
        ("df --output", "not an allowed form of df"),
        ("free -m -s 1", "not an allowed form of free"),
        ("ss -K", "not an allowed form of ss"),
        ("hostname evil", "not an allowed form of hostname"),
        ("uname -a -r", "not an allowed form of uname"),
        ("ip link set lo down", "not an allowed form of ip"),
        ("ip route add default via 10.0.0.1", "not an allowed form of ip"),
    ],
)
def test_everything_else_is_refused_with_the_allow_list(command, reason):
    result = run(command)
    assert result.is_error
    assert reason in result.content
    assert "Allowed commands: ps aux; ps -ef;" in result.content
    assert "<columns> is a comma-separated list of: pid, ppid" in result.content
    assert result.data is None


def test_validate_returns_the_argv():
    assert validate("ps  -eo 'pid,comm'") == ["ps", "-eo", "pid,comm"]
    with pytest.raises(ValueError, match="disabled in this workspace"):
        validate("uptime", frozenset({"uptime"}))


def test_commands_can_be_disabled_per_workspace():
    result = run("ps aux", extra_disabled=["ps", "ss"])
    assert result.is_error
    assert "'ps' is disabled in this workspace" in result.content
    assert "ps aux" not in result.content.split("Allowed commands:")[1]
    assert "ss -s" not in result.content.split("Allowed commands:")[1]
    if installed("uptime"):
        assert not run("uptime", extra_disabled=["ps"]).is_error


def test_extra_disabled_names_known_commands_only():
    with pytest.raises(ValidationError, match="extra_disabled"):
        DiagnosticsShellSettings(extra_disabled=["rm"])
    with pytest.raises(ValidationError):
        DiagnosticsShellSettings(unknown=True)
    assert DiagnosticsShellSettings().extra_disabled == []


def test_malformed_arguments_fail_validation():
    with pytest.raises(ValidationError, match="command"):
        DiagnosticsShellArguments(command="")
    with pytest.raises(ValidationError, match="command"):
        DiagnosticsShellArguments(command="ps " + "a" * 300)


@pytest.mark.skipif(not installed("cat"), reason="cat is not installed")
def test_commands_run_confined(monkeypatch):
    # Widen the table (not the runner) so the child can report on itself.
    monkeypatch.setitem(
        COMMANDS,
        "cat",
        (("/proc/self/limits",), ("/proc/self/environ",), ("/proc/self/stat",)),
    )
    limits = run("cat /proc/self/limits").data["stdout"]
    expected = {
        "Max cpu time": "5",
        "Max file size": "0",
        "Max processes": "0",
        "Max open files": "64",
        "Max address space": str(512 * 1024 * 1024),
        "Max core file size": "0",
    }
    for name, value in expected.items():
        assert re.search(rf"^{name}\s+{value}\s+{value}\s", limits, re.MULTILINE), name
    environment = run("cat /proc/self/environ").data["stdout"]
    assert sorted(environment.strip("\0").split("\0")) == ["LC_ALL=C", "PATH=/usr/bin:/bin"]
    # Its own session: the session id (field 6) is its own pid (field 1).
    stat = run("cat /proc/self/stat").data["stdout"]
    pid, session = stat.split()[0], stat.rsplit(")", 1)[1].split()[3]
    assert session == pid
    assert session != str(os.getsid(0))


def test_a_command_that_fails_is_an_error_result_with_its_message():
    if not installed("df"):
        pytest.skip("df is not installed")
    result = run("df -h /no/such/path")
    assert result.is_error
    assert "[exit status 1]" in result.content
    assert "No such file or directory" in result.content
    assert result.data["exit_code"] == 1


def test_a_command_that_hangs_is_killed(monkeypatch):
    if not installed("sleep"):
        pytest.skip("sleep is not installed")
    monkeypatch.setitem(COMMANDS, "sleep", (("30",),))
    monkeypatch.setattr(diagnostics_shell, "RUN_TIMEOUT_SECONDS", 1)
    result = run("sleep 30")
    assert result.is_error
    assert "'sleep 30' did not finish within 1 seconds" in result.content


def test_long_output_is_truncated(monkeypatch):
    if not installed("cat"):
        pytest.skip("cat is not installed")
    monkeypatch.setattr(diagnostics_shell, "MAX_OUTPUT_BYTES", 200)
    result = run("cat /proc/meminfo")
    assert "[output truncated to the first 200 bytes]" in result.content
    assert result.data["truncated"] is True
    assert len(result.data["stdout"].encode()) <= 200


def test_a_missing_binary_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(diagnostics_shell, "SAFE_PATH", str(tmp_path))
    result = run("lscpu")
    assert result.is_error
    assert f"'lscpu' is not installed on this server (looked in {tmp_path})" in result.content
