"""What one pass of a model changed in a photo: what the blind model's later looks are decided by (its second
pass, `app.inference.second_pass_due`, and the look for leftover impulses, `app.leftover_impulses`), and what
scripts/second_pass_checks.py and scripts/leftover_checks.py report beside the scores they decide by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_ROWS = 512  # rows compared at a time: a 60 MP photo's whole comparison would be 180 MB


@dataclass(frozen=True)
class PassChanges:
    size: int  # values in the photo
    values: int  # values changed
    pixels: int  # pixels with a value changed
    away: int  # values changed that were not 0 or the maximum
    colour: bool  # (H, W, 3) values; False for a grey photo

    @property
    def per_pixel(self) -> float:
        """Changed values per changed pixel: about 1 where noise struck channels one at a time, up to 3 where
        it struck whole pixels (1 on a grey photo)."""
        return self.values / max(self.pixels, 1)


def pass_changes(before: np.ndarray, after: np.ndarray, top: int) -> PassChanges:
    """What a pass changed (`before` -> `after`, grey or colour, uint8 or uint16, `top` the maximum value),
    compared in bands of rows, so the memory is a band's."""
    away = values = pixels = 0
    for top_row in range(0, before.shape[0], BAND_ROWS):
        band = before[top_row : top_row + BAND_ROWS]
        differs = band != after[top_row : top_row + BAND_ROWS]
        values += int(np.count_nonzero(differs))
        pixels += int(np.count_nonzero(differs.any(axis=2) if differs.ndim == 3 else differs))
        away += int(np.count_nonzero(differs & (band != 0) & (band != top)))
    return PassChanges(before.size, values, pixels, away, before.ndim == 3)
