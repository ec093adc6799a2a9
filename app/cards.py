"""Model cards: `<name>.json` beside `<name>.onnx`, read and written here only.

The service reads them (GET /models, the default model, int8 twins); the training package writes them:
`export` and `quantize` create one, `evaluate --card` and `bench --card` each update one section. One
format (JSON, indent 1, a final newline), so a card diff shows only what changed.

An int8 twin (`python -m training quantize`) is named `<float name>` + `INT8_SUFFIX` and its card's
`int8_of` names the float model and the sha256 of the file it was made from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

INT8_SUFFIX = "-int8"


def float_name(name: str) -> str:
    """The float model a served name answers for: a twin's float model, any other name itself. The service
    runs the twin in its float model's place on the CPU (`app.registry`), so the name that ran can be either."""
    return name.removesuffix(INT8_SUFFIX)


def file_sha256(path: Path) -> str:
    """The sha256 a card records for a model file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def int8_source(card: dict) -> dict | None:
    """{"name", "sha256"} of the float model an int8 twin's card was made from; None for other cards."""
    return card.get("int8_of") or None


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
