"""Model cards: `<name>.json` beside `<name>.onnx`, read and written here only.

The service reads them (GET /models, the default model); the training package writes them: `export`
creates one, `evaluate --card` and `bench --card` each update one section. One format (JSON, indent
1, a final newline), so a card diff shows only what changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def card_path(model: Path) -> Path:
    """The card of a model file (`x.onnx` -> `x.json`); a card's own path is returned as it is."""
    return Path(model).with_suffix(".json")


def read_card(model: Path, missing_ok: bool = False) -> dict:
    """The card of `model` (an .onnx or .json path); {} when it has none and `missing_ok`."""
    path = card_path(model)
    if missing_ok and not path.exists():
        return {}
    return json.loads(path.read_text())


def write_card(model: Path, card: dict) -> None:
    card_path(model).write_text(json.dumps(card, indent=1) + "\n")


def update_card(model: Path, change: Callable[[dict], None]) -> bool:
    """Apply `change` to the card of `model` and save it; False (nothing written) when there is no card."""
    if not card_path(model).exists():
        return False
    card = read_card(model)
    change(card)
    write_card(model, card)
    return True
