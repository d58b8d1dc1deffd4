r"""A piano roll as a PNG: time on x, MIDI pitch on y, one cell per (step, key) that sounds.

For a roll r (T, K) over keys with MIDI numbers p_1..p_K, the picture is the matrix

.. math::
    R_{m, t} = \max_{k : p_k = m} r_{t, k}, \qquad
    m \in [\min_{k, t: r_{t,k}} p_k - M, \ \max_{k, t: r_{t,k}} p_k + M]

over the pitches that are used, widened by a margin of M semitones (clipped to the keys' own
range), so a chorale in the middle of an 88-key roll is not a thin line. The first
``prompt_steps`` steps (the prompt a model continued) are shaded and drawn in another colour.

Drawn as `nnzoo.report.plots` draws: matplotlib's Agg canvas, never pyplot, written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnzoo.data.music import note_name
from nnzoo.errors import ConfigError
from nnzoo.report.plots import _figure, _save

MARGIN = 2  # semitones above and below the pitches used
BACKGROUND, PROMPT_BACKGROUND = (1.0, 1.0, 1.0), (0.90, 0.90, 0.90)
NOTE, PROMPT_NOTE = (0.12, 0.35, 0.75), (0.85, 0.40, 0.10)


def plot_piano_roll(
    roll: Any,
    pitches: Sequence[int],
    path: str | os.PathLike,
    *,
    prompt_steps: int = 0,
    title: str | None = None,
) -> Path:
    """Draw ``roll`` as a piano roll PNG at ``path``; return the path.

    Args:
        roll: (T, K) which keys sound at each step: bool, 0/1 floats (> 0.5 sounds), a tensor
            or an array.
        pitches: the MIDI number of each of the K keys (C4 = 60).
        path: where the PNG goes (folders are created).
        prompt_steps: the first steps that were given, not sampled: shaded, in another colour.
        title: figure title.

    Raises:
        ConfigError: a roll that is not (T, K) with T >= 1 and one pitch per key, or a
            ``prompt_steps`` outside 0..T.
    """
    values = np.asarray(roll.cpu() if hasattr(roll, "cpu") else roll, dtype=np.float64)
    pitches = [int(p) for p in pitches]
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] != len(pitches) or not pitches:
        raise ConfigError(
            f"roll: expected (T, K) with T >= 1 and K = {len(pitches)} keys (one per pitch), "
            f"got shape {values.shape}"
        )
    T = values.shape[0]
    if isinstance(prompt_steps, bool) or not isinstance(prompt_steps, int):
        raise ConfigError(f"prompt_steps={prompt_steps!r}: expected an integer 0..{T}")
    if not 0 <= prompt_steps <= T:
        raise ConfigError(f"prompt_steps={prompt_steps}: expected an integer 0..{T}")
    on = values > 0.5  # (T, K)
    used = [p for p, sounds in zip(pitches, on.any(axis=0)) if sounds] or pitches
    low = max(min(used) - MARGIN, min(pitches))
    high = min(max(used) + MARGIN, max(pitches))
    grid = np.zeros((high - low + 1, T), dtype=bool)  # (P, T): row m - low is pitch m
    for k, p in enumerate(pitches):
        if low <= p <= high:
            grid[p - low] |= on[:, k]
    image = np.empty((*grid.shape, 3))  # (P, T, RGB)
    image[:] = BACKGROUND
    image[:, :prompt_steps] = PROMPT_BACKGROUND
    image[grid] = NOTE
    prompt = np.zeros_like(grid)
    prompt[:, :prompt_steps] = True
    image[grid & prompt] = PROMPT_NOTE
    rows = high - low + 1
    fig = _figure(min(max(4.0, 1.5 + 0.12 * T), 16.0), min(max(3.0, 1.2 + 0.12 * rows), 12.0))
    ax = fig.add_subplot()
    ax.imshow(image, origin="lower", aspect="auto", interpolation="nearest",
              extent=(-0.5, T - 0.5, low - 0.5, high + 0.5))  # fmt: skip
    every = 1 if rows <= 24 else 12  # each pitch named on a short range, else each C
    ticks = [m for m in range(low, high + 1) if m % every == 0] or [low, high]
    ax.set_yticks(ticks, [f"{note_name(m)} ({m})" for m in ticks])
    ax.set_xlabel("step")
    ax.set_ylabel("pitch (MIDI)")
    if prompt_steps:
        ax.axvline(prompt_steps - 0.5, color="0.4", linewidth=0.8, linestyle="--")
    ax.set_title(title or f"{T} steps ({prompt_steps} given)")
    return _save(fig, path)
