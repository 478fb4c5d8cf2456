"""Template variables in action bodies: ``{{scheduled_time}}``, ``{{job_id}}``, ``{{execution_id}}``.

Every string inside a JSON value (keys stay as they are) has its variables
replaced; unknown ``{{names}}`` are left untouched so literal braces survive.
"""

from __future__ import annotations

import re
from typing import Any

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render_text(text: str, variables: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def render(value: Any, variables: dict[str, str]) -> Any:
    """``value`` with template variables filled in every string it contains."""
    if isinstance(value, str):
        return render_text(value, variables)
    if isinstance(value, dict):
        return {key: render(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    return value
