"""TimeLimit: stop before an epoch that would end past a budget of training time.

    after epoch e:  stop  <=>  s_1 + ... + s_e + s_e > limit

where s_i is epoch i's wall-clock seconds (``logs["seconds"]``: its training steps and its
validation) and ``limit`` the budget in seconds: the next epoch is assumed to take as long as
the last one, and is not started when it would not end inside the budget. The sum runs over
the whole history, so a resumed run keeps the time it had already spent. Lightning's
``Trainer(max_time=...)`` stops mid-epoch once the time has passed; stopping on an epoch
boundary instead keeps every epoch validated, so the best epoch is still picked on validation.
"""

from __future__ import annotations

from typing import Any

from nnzoo.engine.callbacks.base import Callback
from nnzoo.errors import ConfigError


class TimeLimit(Callback):
    def __init__(self, minutes: float):
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not minutes > 0:
            raise ConfigError(f"time limit minutes={minutes!r}: expected a number > 0")
        self.minutes = float(minutes)

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        spent = sum(row.get("seconds", 0.0) for row in loop.history)
        if spent + logs.get("seconds", 0.0) > self.minutes * 60:
            loop.stop(
                f"time limit: {spent / 60:.1f} of {self.minutes:g} minutes spent, "
                "no time for another epoch"
            )
