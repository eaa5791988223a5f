"""Read-only diagnostics for an "ops agent": process lists, memory, disks, sockets.

This is not a shell. The command line is split with ``shlex`` and must match one of the
forms in ``COMMANDS`` exactly (a command name and one allowed set of arguments); there is
no shell, so pipes, redirections, globs and variables mean nothing. The binary is looked up
only in /usr/bin and /bin, started with an empty environment (PATH and LC_ALL=C), no
stdin, in its own session, under resource limits (CPU, memory, no files written, no child
processes), killed after 5 seconds, and its output is cut at 16 KB.

Off by default, and only a platform admin may switch it on for a workspace: what these
commands show (every process on the host with its command line, listening sockets,
addresses) is reconnaissance material about the whole platform, not one workspace.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from plugins.base import PluginSettings, Tool, ToolContext, ToolResult

SAFE_PATH = "/usr/bin:/bin"
RUN_TIMEOUT_SECONDS = 5
MAX_OUTPUT_BYTES = 16_384
MAX_COMMAND_LENGTH = 300
_SHELL_SYNTAX = re.compile(r"[|;&<>`$*?(){}\n]")


@dataclass(frozen=True)
class Pattern:
    """An argument that is not a fixed word: matched with ``regex`` (whole argument),
    shown as ``label`` in the allow-list."""

    label: str
    regex: re.Pattern[str]
    forbidden: tuple[str, ...] = ()

    def matches(self, argument: str) -> bool:
        return bool(self.regex.fullmatch(argument)) and not any(
            part in argument for part in self.forbidden
        )


Argument = str | Pattern

# ps -eo columns: identity, load, state and times; nothing that reads other files.
PS_COLUMNS = (
    *("pid", "ppid", "user", "uid", "%cpu", "%mem", "rss", "vsz", "stat", "state", "start"),
    *("lstart", "time", "etime", "nlwp", "pri", "ni", "tty", "comm", "args", "cmd"),
)
_PS_COLUMN = "(?:" + "|".join(re.escape(column) for column in PS_COLUMNS) + ")"
COLUMNS = Pattern("<columns>", re.compile(rf"{_PS_COLUMN}(?:,{_PS_COLUMN}){{0,15}}"))
SORT = Pattern("--sort=[-]<column>", re.compile(rf"--sort=[+-]?{_PS_COLUMN}"))
# An absolute path of plain characters; ".." could only walk somewhere df has no business.
ABSOLUTE_PATH = Pattern("<absolute path>", re.compile(r"/[A-Za-z0-9._/@+-]{0,255}"), ("..",))

#: command name → the argument lists it may be run with, each matched exactly.
COMMANDS: dict[str, tuple[tuple[Argument, ...], ...]] = {
    "ps": (("aux",), ("-ef",), ("-eo", COLUMNS), ("-eo", COLUMNS, SORT)),
    "top": (("-b", "-n", "1"),),
    "df": (("-h",), ("-h", ABSOLUTE_PATH)),
    "free": (("-m",), ("-h",)),
    "uptime": ((),),
    "ss": (("-tlnp",), ("-tunlp",), ("-s",)),
    "uname": (("-a",), ("-r",)),
    "hostname": ((),),  # with an argument it would set the host name
    "nproc": ((),),
    "cat": (("/proc/loadavg",), ("/proc/meminfo",)),
    "lscpu": ((),),
    "ip": (("addr",), ("route",)),
}

CommandName = Literal[
    "ps", "top", "df", "free", "uptime", "ss", "uname", "hostname", "nproc", "cat", "lscpu", "ip"
]


def allow_list() -> list[str]:
    """Every allowed form, as a person would type it: ``ps -eo <columns>``..."""
    return [
        " ".join([name, *(arg if isinstance(arg, str) else arg.label for arg in form)])
        for name, forms in COMMANDS.items()
        for form in forms
    ]


def validate(command: str, disabled: frozenset[str] = frozenset()) -> list[str]:
    """The argv for ``command`` if it is allowed; otherwise ``ValueError`` saying why."""
    if _SHELL_SYNTAX.search(command):
        raise ValueError(
            "pipes, redirections, variables, globs and other shell syntax are not available; "
            "run one plain command"
        )
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"cannot split the command line ({exc})") from None
    if not argv:
        raise ValueError("the command is empty")
    name, arguments = argv[0], argv[1:]
    if name not in COMMANDS:
        raise ValueError(f"'{name}' is not an allowed command")
    if name in disabled:
        raise ValueError(f"'{name}' is disabled in this workspace")
    for form in COMMANDS[name]:
        if len(form) == len(arguments) and all(
            allowed == given if isinstance(allowed, str) else allowed.matches(given)
            for allowed, given in zip(form, arguments, strict=True)
        ):
            return argv
    forms = [line for line in allow_list() if line.split(" ", 1)[0] == name]
    raise ValueError(f"'{command}' is not an allowed form of {name} (allowed: {'; '.join(forms)})")


class DiagnosticsShellArguments(BaseModel):
    command: str = Field(
        min_length=1,
        max_length=MAX_COMMAND_LENGTH,
        description="One read-only diagnostic command, e.g. 'ps aux', 'df -h', 'free -m', "
        "'uptime', 'ss -tlnp', 'cat /proc/meminfo'. Allowed: " + "; ".join(allow_list()) + ".",
    )


class DiagnosticsShellSettings(PluginSettings):
    extra_disabled: list[CommandName] = Field(
        default_factory=list,
        max_length=len(COMMANDS),
        description="Commands of the allow-list that this workspace's agents may not run.",
    )


class DiagnosticsShell(Tool):
    display_name = "Diagnostics shell"
    description = (
        "Runs one read-only diagnostic command on the platform's server and returns its "
        "output: processes (ps, top), memory (free, /proc/meminfo), disks (df), load "
        "(uptime, /proc/loadavg), sockets (ss), network (ip), system (uname, hostname, "
        "nproc, lscpu). Only an allow-list of exact forms is accepted."
    )
    Arguments = DiagnosticsShellArguments
    Settings = DiagnosticsShellSettings
    # The command itself is killed after 5 s; this is the platform's backstop.
    timeout_seconds = 8.0
    enabled_by_default = False
    # It shows the host, shared by every workspace: a platform decision, not a workspace's.
    requires_platform_admin = True

    def invoke(self, arguments: DiagnosticsShellArguments, context: ToolContext) -> ToolResult:
        """Validate the command against the allow-list, run it confined, return its output."""
        settings: DiagnosticsShellSettings = context.settings  # type: ignore[assignment]
        try:
            argv = validate(arguments.command, frozenset(settings.extra_disabled))
        except ValueError as exc:
            allowed = [
                line
                for line in allow_list()
                if line.split(" ", 1)[0] not in settings.extra_disabled
            ]
            return ToolResult(
                content=f"Refused: {exc}. Allowed commands: {'; '.join(allowed)}. "
                f"<columns> is a comma-separated list of: {', '.join(PS_COLUMNS)}.",
                is_error=True,
            )
        binary = shutil.which(argv[0], path=SAFE_PATH)
        if binary is None:
            return ToolResult(
                content=f"'{argv[0]}' is not installed on this server (looked in {SAFE_PATH}).",
                is_error=True,
            )
        shown = shlex.join(argv)
        try:
            completed = subprocess.run(  # noqa: S603 (argv is validated against COMMANDS)
                [binary, *argv[1:]],
                shell=False,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=RUN_TIMEOUT_SECONDS,
                env={"PATH": SAFE_PATH, "LC_ALL": "C"},
                cwd="/",
                close_fds=True,
                preexec_fn=_confine,  # only system calls run there, see _confine
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ToolResult(
                content=f"'{shown}' did not finish within {RUN_TIMEOUT_SECONDS} seconds.",
                is_error=True,
            )
        except OSError as exc:
            return ToolResult(content=f"'{shown}' could not be started: {exc}.", is_error=True)
        stdout, stdout_cut = _truncate(completed.stdout)
        stderr, stderr_cut = _truncate(completed.stderr)
        data = {
            "command": argv,
            "exit_code": completed.returncode,
            "stdout": stdout,
            "stderr": stderr,
            "truncated": stdout_cut or stderr_cut,
        }
        parts = [f"$ {shown}", stdout.rstrip("\n")]
        if stdout_cut:
            parts.append(f"[output truncated to the first {MAX_OUTPUT_BYTES:,} bytes]")
        if completed.returncode != 0:
            parts.append(f"[exit status {completed.returncode}]")
            if stderr.strip():
                parts.append(stderr.rstrip("\n"))
        return ToolResult(
            content="\n".join(part for part in parts if part),
            data=data,
            is_error=completed.returncode != 0,
        )


def _confine() -> None:
    """Runs in the child between fork and exec: only plain system calls, no locks, so it
    is safe even though the platform calls tools from several threads."""
    os.setsid()  # its own session: no controlling terminal, no signals from ours
    limits = (
        (resource.RLIMIT_CPU, RUN_TIMEOUT_SECONDS),
        (resource.RLIMIT_AS, 512 * 1024 * 1024),
        (resource.RLIMIT_FSIZE, 0),  # writes no file (stdout and stderr are pipes)
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_NPROC, 0),  # starts no process (ignored for root)
        (resource.RLIMIT_CORE, 0),
    )
    for limit, value in limits:
        resource.setrlimit(limit, (value, value))


def _truncate(output: bytes) -> tuple[str, bool]:
    cut = len(output) > MAX_OUTPUT_BYTES
    return output[:MAX_OUTPUT_BYTES].decode("utf-8", errors="replace"), cut
