"""What a check finds: a ``Problem`` (on its node and setting where there is one), the
``Report`` that collects them in order, pydantic's errors as problems, and the 400
``WorkflowInvalid`` that refuses a definition."""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from kernel.errors import ApiError


class WorkflowInvalid(ApiError):
    status = 400
    code = "WorkflowInvalid"


@dataclass(frozen=True)
class Problem:
    node_id: str | None
    setting: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"node '{self.node_id}'" if self.node_id else "workflow"
        if self.setting:
            where += f" ({self.setting})"
        return f"{where}: {self.message}"


class Report:
    """The problems found so far, in the order they were found."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, node_id: str | None, setting: str | None, message: str) -> None:
        self.found.append(Problem(node_id, setting, message))


def location(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc)


def schema_problems(data: Any, exc: PydanticValidationError) -> list[Problem]:
    """Pydantic's errors about the stored format, each on its node where it has one."""
    nodes = data.get("nodes") if isinstance(data, dict) else None
    found = []
    for error in exc.errors():
        loc = list(error["loc"])
        node_id = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int) and nodes:
            raw = nodes[loc[1]] if loc[1] < len(nodes) else None
            if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
                node_id = raw["id"][:64]
            if node_id is not None:
                loc = loc[2:]
        found.append(Problem(node_id, location(loc) or None, error["msg"]))
    return found
