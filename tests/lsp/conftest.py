from __future__ import annotations

import pytest


@pytest.fixture(params=["visual_studio_code", "neovim"])
def client_name(request) -> str:
    return request.param


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    return root
