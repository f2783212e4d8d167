"""docs/configuration.md documents every setting graphgate/core/settings.py reads."""

from __future__ import annotations

from pathlib import Path

from graphgate.core.settings import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [name for name in Settings.model_fields if f"GRAPHGATE_{name.upper()}" not in DOC]
    assert not missing, f"document these in docs/configuration.md: {missing}"
