"""Editor settings (initializationOptions, workspace/configuration, didChangeConfiguration) into
the one Settings model; an invalid value is reported and the previous settings stay."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verifix import config
from verifix.config import Settings, SettingsError
from verifix.lsp.protocol import CONFIG_SECTION

# Changing one of these means loading another model.
ENGINE_KEYS = ("model", "backend", "url", "gpuLayers", "contextSize", "threads", "seed")


def engine_key(settings: Settings) -> tuple[Any, ...]:
    """What the loaded model depends on: equal keys, same model."""
    return tuple(getattr(settings, k) for k in ENGINE_KEYS)


def section_of(value: Any) -> dict[str, Any]:
    """The verifix table from an options object: {"verifix": {...}} or the table itself."""
    if not isinstance(value, Mapping):
        return {}
    inner = value.get(CONFIG_SECTION)
    return dict(inner) if isinstance(inner, Mapping) else dict(value)


class SettingsStore:
    """The editor's layers of settings and the Settings they make; the project root."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self.init_layer: dict[str, Any] = {}
        self.config_layer: dict[str, Any] = {}
        self.settings = Settings()

    def start(self, root: Path | None, init_options: Any) -> list[str]:
        """At initialize: defaults < pyproject < initializationOptions < environment."""
        self.root = root
        try:
            self.settings = config.load(root)  # the fallback if the editor's values are bad
        except SettingsError as exc:
            return exc.lines
        if not isinstance(init_options, Mapping | None):
            return [f"initializationOptions: expected an object, got {init_options!r}"]
        return self._try(init=section_of(init_options))

    def update(self, editor_config: Any) -> list[str]:
        """workspace/configuration or didChangeConfiguration values. Once the editor answers
        with settings, they replace initializationOptions too, so a setting the user removed
        stops applying; an empty answer (an editor without the section) keeps them."""
        if editor_config is None:
            editor_config = {}
        if not isinstance(editor_config, Mapping):
            return [f"editor settings: expected an object, got {editor_config!r}"]
        return self._try(init={} if editor_config else None, cfg=dict(editor_config))

    def _try(self, init: dict[str, Any] | None = None,
             cfg: dict[str, Any] | None = None) -> list[str]:
        new_init = self.init_layer if init is None else init
        new_config = self.config_layer if cfg is None else cfg
        editor = _merge(new_init, new_config)
        try:
            settings = config.load(self.root, editor=editor)
        except SettingsError as exc:
            return exc.lines  # keep the previous layers and settings
        self.init_layer, self.config_layer, self.settings = new_init, new_config, settings
        return []


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
