"""Reading and editing the recorded commands in model cards (`python -m training fit ... --out X`).

The cards keep commands as shell text; export, reproduce and the fit-gap script each need one flag's
value or a copy with one flag changed, so the parsing lives here once.
"""

from __future__ import annotations

import shlex


def _parts(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def flag_value(command: str | list[str], flag: str) -> str | None:
    """The value after `flag`, or None when the command has no such flag."""
    parts = _parts(command)
    return parts[parts.index(flag) + 1] if flag in parts else None


def with_flag(command: str | list[str], flag: str, value: str) -> list[str]:
    """The command's words with `flag` set to `value` (replaced where present, else appended)."""
    parts = _parts(command)
    if flag in parts:
        parts[parts.index(flag) + 1] = value
    else:
        parts += [flag, value]
    return parts
