"""Where a failing test's traceback passes through the project: the frames pytest prints."""

from __future__ import annotations

import re
from dataclasses import dataclass

# pytest's long format ends each frame with "path.py:LINE: in name", the last with
# "path.py:LINE: ExceptionName".
_FRAME = re.compile(r"^(?P<path>[^\s:>E][^:\n]*\.py):(?P<line>\d+): (?P<what>\S.*)$", re.M)


@dataclass(frozen=True)
class Frame:
    path: str  # as pytest prints it: relative to its rootdir
    line: int  # 1-based


def traceback_frames(text: str) -> list[Frame]:
    """The frames of a pytest failure text, outermost first."""
    return [Frame(m.group("path"), int(m.group("line"))) for m in _FRAME.finditer(text)]


_SEPARATOR = re.compile(r"^(?:_ )+_?\s*$", re.M)  # pytest's line between two frames


def report_without_code(text: str, limit: int = 1500) -> str:
    """What a pytest failure says without the code under test: the test's own frame (its
    assertion and the values pytest shows for it), then, when the error came from deeper,
    the error's `E` lines and where it was raised. For prompts that must not copy the code."""
    parts = _SEPARATOR.split(text.strip(), maxsplit=1)
    head = parts[0].strip()
    if len(parts) == 1:
        return head[-limit:]
    lines = text.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("E ")]
    where = lines[-1] if _FRAME.match(lines[-1]) else ""
    tail = "\n".join([*errors[-8:], *([where] if where else [])])
    return (head[: max(0, limit - len(tail) - 10)] + "\n...\n" + tail).strip()
