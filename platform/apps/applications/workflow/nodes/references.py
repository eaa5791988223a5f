"""The type of a setting that names one variable (``node_id.output``), shared by the node
types that read a variable whole rather than through a template.

The canvas's variable picker writes ``llm_1.text``; people also write the template form
``{{ llm_1.text }}`` they use in prompts, so that is accepted and stored as the plain
reference: one way to read a variable, whichever way it was written.
"""

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from apps.applications.workflow.nodes.base import REFERENCE

_BRACED = re.compile(r"^\s*\{\{\s*([^{}]*?)\s*\}\}\s*$")


def unbraced(value: Any) -> Any:
    """``{{ a.b }}`` as ``a.b``; anything else as it is (the pattern then judges it)."""
    if isinstance(value, str):
        match = _BRACED.match(value)
        return match.group(1) if match else value.strip()
    return value


Reference = Annotated[str, BeforeValidator(unbraced), Field(pattern=REFERENCE.pattern)]
