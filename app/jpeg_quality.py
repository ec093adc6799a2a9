"""The quality a JPEG file was saved at, read from its luminance quantisation table.

Why: which model restores a grey photo saved as JPEG after its noise depends on how hard the save was
(`app.pipeline.GREY_SAVED_BOUNDARY`): `jpeg-unet` by up to 4.4 dB at quality 50, `blind-unet` by up to 6.4 dB
at 95 (`python scripts/grey_jpeg_checks.py --data ../shared/data/Set12`). A JPEG file carries its tables in its
header, so the quality costs nothing to read. Files written by libjpeg (Pillow, OpenCV, most software) hold
IJG's table scaled for their quality, and the quality found is exactly the one asked for (tests/
test_jpeg_quality.py, 1-100); a camera's own tables get the IJG quality whose table is nearest theirs (in
log steps), which is how coarse their save was on the same scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# libjpeg's jpeg_std_quant_tbl[0] (ITU T.81 Annex K, table K.1), in natural (row by row) order, the order in
# which Pillow gives a file's tables (`JpegImageFile.quantization`).
IJG_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)  # fmt: skip

QUALITIES = np.arange(1, 101)


def ijg_table(quality: int) -> np.ndarray:
    """The luminance table libjpeg writes at `quality` (1-100, baseline: entries clamped to 1..255), as
    `jpeg_quality_scaling` and `jpeg_add_quant_table` compute it."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((IJG_LUMINANCE * scale + 50) // 100, 1, 255)


_IJG_LOG_TABLES = np.log(np.stack([ijg_table(int(q)) for q in QUALITIES]))


def ijg_quality(luminance_table: Sequence[int]) -> int | None:
    """The IJG quality (1-100) whose luminance table is nearest `luminance_table` (64 entries in natural
    order), by the mean absolute difference of their logarithms; None for a table that is not 64 positive
    entries (a malformed file is the decoder's to refuse, not this)."""
    table = np.asarray(luminance_table, dtype=np.float64).ravel()
    if table.size != 64 or not np.all(table > 0):
        return None
    distance = np.abs(_IJG_LOG_TABLES - np.log(table)).mean(axis=1)
    return int(QUALITIES[int(np.argmin(distance))])
