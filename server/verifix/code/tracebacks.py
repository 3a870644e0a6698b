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
