"""The command line as a user runs it: `python -m verifix` with this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def verifix(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300, python: str = sys.executable,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "verifix", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd)
