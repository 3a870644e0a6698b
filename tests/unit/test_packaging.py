"""The distribution as a user installs it: prompts inside the package, the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_every_prompt_inside_the_package(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("verifix-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    prompts = sorted(p.name for p in (ROOT / "prompts").glob("*.md"))
    assert prompts, "no prompt templates in prompts/"
    for name in prompts:
        assert f"verifix/prompts/{name}" in names
    assert "verifix/cli.py" in names and "verifix/engine/llama.py" in names
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "verifix = verifix.cli:main" in entry_points


def test_every_prompt_loads_and_names_its_placeholders():
    from verifix import prompt

    for path in (ROOT / "prompts").glob("*.md"):
        text = prompt.template(path.stem)
        assert text.strip(), path.name
        prompt.placeholders(path.stem)  # a malformed {placeholder} raises here


def test_python_dash_m_verifix_runs():
    out = subprocess.run([sys.executable, "-m", "verifix", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("verifix ")
