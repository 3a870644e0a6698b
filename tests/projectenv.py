"""Real virtualenvs for test projects, made offline: `python -m venv`, then pytest's installed
files (and its dependencies') copied in from this interpreter, as pip would have put them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages"


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        if ";" in req and "python_version" in req:
            marker = req.split(";", 1)[1]
            if "< \"3.1" in marker or "<'3.1" in marker or '< "3.11"' in marker:
                continue  # backports this interpreter does not need
        names.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
    return names


def copy_distribution(name: str, target: Path, done: set[str] | None = None) -> None:
    """Copy an installed distribution and its requirements into `target` (a site-packages)."""
    done = set() if done is None else done
    key = name.lower().replace("_", "-")
    if key in done:
        return
    done.add(key)
    dist = metadata.distribution(name)
    for file in dist.files or []:
        source = Path(str(dist.locate_file(file)))
        if source.suffix == ".pyc" or not source.is_file() or ".." in file.parts:
            continue
        dest = target / file
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
    for req in _requirement_names(dist):
        try:
            copy_distribution(req, target, done)
        except metadata.PackageNotFoundError:
            pass


def make_venv(venv: Path, *, pytest: bool = True, modules: dict[str, str] | None = None) -> Path:
    """A virtualenv at `venv` (no pip); with pytest and `modules` ({"pkg/__init__.py": text})
    installed into its site-packages. Returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = site_packages(venv)
    if pytest:
        copy_distribution("pytest", site)
    for rel, text in (modules or {}).items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return venv / "bin" / "python"


def run_pytest(python: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The project's tests as its developer runs them."""
    return subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=project, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


PYTEST_PARTS = ("pytest", "_pytest", "py.py", "pluggy", "iniconfig")


def venv_without_pytest(venv: Path) -> Path:
    """A virtualenv with this interpreter's packages (verifix and its dependencies, linked, not
    copied) but no pytest and no pytest plugin: verifix as a user installs it, without its test
    extras. Returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = Path(next(p for p in sys.path if p.endswith("site-packages")))
    site = site_packages(venv)
    for entry in ours.iterdir():
        name = entry.name.lower()
        if name.startswith(PYTEST_PARTS) or name.startswith("__pycache__"):
            continue
        (site / entry.name).symlink_to(entry)
    return venv / "bin" / "python"
