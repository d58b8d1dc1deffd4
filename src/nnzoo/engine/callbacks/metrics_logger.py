"""MetricsLogger: one JSON line and one CSV row per epoch (a run's metrics.jsonl and .csv).

On a resumed run the files are rewritten from the checkpoint's history first, so epochs that
were logged after the last checkpoint (and will be run again) do not appear twice. Rewrites are
atomic (a process killed mid-write leaves the previous file); after that both files grow by one
line an epoch (the CSV is written whole again only when a new column appears), so a run of
thousands of tiny epochs does not rewrite its table every epoch.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from nnzoo.engine.callbacks.base import Callback
from nnzoo.io import write_atomic


class MetricsLogger(Callback):
    """Writes the history to ``jsonl`` (one object a line) and ``csv`` (one row an epoch)."""

    def __init__(self, jsonl: str | os.PathLike, csv: str | os.PathLike):
        self.jsonl, self.csv = Path(jsonl), Path(csv)
        self.keys: list[str] = []  # the CSV's columns

    def on_train_begin(self, loop) -> None:
        write_atomic(self.jsonl, "".join(json.dumps(r) + "\n" for r in loop.history))
        self._write_csv(loop.history)

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        with self.jsonl.open("a") as f:
            f.write(json.dumps(logs) + "\n")
        if set(logs) <= set(self.keys):  # the same columns: one more row
            with self.csv.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.keys).writerow(logs)
        else:  # a new column (a metric that starts later): the whole table again
            self._write_csv(loop.history)

    def _write_csv(self, history: list[dict[str, Any]]) -> None:
        self.keys = list(dict.fromkeys(k for row in history for k in row)) or ["epoch"]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self.keys)
        writer.writeheader()
        writer.writerows(history)
        write_atomic(self.csv, text.getvalue())
