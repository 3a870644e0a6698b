"""Copies key screenshots of the last real-workbench run into clients/vscode/images/ for the
extension's README (they ship inside the .vsix: kept small, about 1000 px wide).

    .venv/bin/python -m pytest -q tests/clients/test_vscode_workbench.py
    .venv/bin/python -m tests.clients.workbench.readme_images

A screenshot is whatever that run saw: look at the copies before committing them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
IMAGES = ROOT / "clients" / "vscode" / "images"
WIDTH = 1000  # of 1400: the workbench's text stays readable
LIMIT = 150_000  # bytes per image

# README image <- a test's screenshot (tests/clients/test_vscode_workbench.py).
SHOTS = {
    # The job's progress notification (its Cancel button) and the status bar item's percentage.
    "vscode-generate-progress.png":
        "test_cancel_during_a_job_stops_it_and_changes_nothing"
        "[cancel-button-while-the-model-writes]/01-running.png",
    # The real model's verified implementation applied (unsaved), "verified, applied" in the
    # status bar.
    "vscode-generate-applied.png": "test_real_model_generates_from_the_palette/01-applied.png",
    # On save: the failing test's diagnostic (squiggle, Problems panel) and Ctrl+. offering
    # "Apply verified fix" from the background repair.
    "vscode-on-save-fix.png":
        "test_on_save_a_failing_test_gets_a_diagnostic_and_a_verified_fix_to_apply/"
        "02-apply-verified-fix.png",
}


def main() -> int:
    from PIL import Image  # pillow: installed with verifix[bench] (matplotlib)

    missing = [src for src in SHOTS.values() if not (ARTIFACTS / src).is_file()]
    if missing:
        print("run tests/clients/test_vscode_workbench.py first (the real-model test too); "
              "missing:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name, src in SHOTS.items():
        with Image.open(ARTIFACTS / src) as shot:
            image = shot.convert("RGB")
        if image.width > WIDTH:
            image = image.resize((WIDTH, round(image.height * WIDTH / image.width)),
                                 Image.Resampling.LANCZOS)
        out = IMAGES / name
        image.save(out, optimize=True)
        if out.stat().st_size > LIMIT:  # a busy picture: a 256-colour palette halves it
            image.quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)
        print(f"{out.relative_to(ROOT)}: {image.width}x{image.height}, "
              f"{out.stat().st_size // 1024} KB <- {src}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
