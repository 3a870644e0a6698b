"""Editor settings into the one Settings model: layers, removal, invalid values kept out."""

from __future__ import annotations

from verifix.lsp.settings import SettingsStore, section_of


def test_init_options_then_configuration_answers(tmp_path):
    store = SettingsStore()
    assert store.start(tmp_path, {"verifix": {"pipeline": {"candidates": 6}}}) == []
    assert store.settings.pipeline.candidates == 6
    # An editor without the section answers nothing: initializationOptions still apply.
    assert store.update(None) == []
    assert store.settings.pipeline.candidates == 6
    # The editor's answer replaces them; a setting the user removed stops applying.
    assert store.update({"onSave": False}) == []
    assert store.settings.onSave is False
    assert store.settings.pipeline.candidates == 4


def test_invalid_value_is_reported_and_the_previous_settings_stay(tmp_path):
    store = SettingsStore()
    store.start(tmp_path, {"pipeline": {"candidates": 3}})
    errors = store.update({"pipeline": {"candidates": 0}})
    assert len(errors) == 1 and "candidates" in errors[0]
    assert store.settings.pipeline.candidates == 3
    assert store.update("nonsense") == ["editor settings: expected an object, got 'nonsense'"]


def test_pyproject_is_below_the_editor(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.verifix.pipeline]\ncandidates = 5\ntimeBudget = 90\n", encoding="utf-8")
    store = SettingsStore()
    assert store.start(tmp_path, None) == []
    assert (store.settings.pipeline.candidates, store.settings.pipeline.timeBudget) == (5, 90)
    store.update({"pipeline": {"candidates": 2}})
    assert (store.settings.pipeline.candidates, store.settings.pipeline.timeBudget) == (2, 90)


def test_section_of_accepts_the_table_or_its_parent():
    assert section_of({"verifix": {"onSave": False}}) == {"onSave": False}
    assert section_of({"onSave": False}) == {"onSave": False}
    assert section_of(None) == {}
