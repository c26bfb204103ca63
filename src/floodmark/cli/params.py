"""``--params``: method parameters given as JSON on the command line.

Pure command-line parsing (a bad value is a usage error naming ``--params``), so it
lives with the CLI; what the parameters mean is each method's (``parameters``).
"""

from __future__ import annotations

from typing import Any

import orjson
import typer


def parse_params(text: str | None, *, per_method: bool = False) -> dict[str, Any]:
    """``--params`` JSON object → keyword arguments, or with ``per_method`` one such
    object per method name (usage error otherwise)."""
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON ({exc})", param_hint="--params") from None
    if per_method:
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise typer.BadParameter(
                'expected {"method": {"parameter": value}}', param_hint="--params"
            )
    elif not isinstance(value, dict):
        raise typer.BadParameter('expected {"parameter": value, ...}', param_hint="--params")
    return value
