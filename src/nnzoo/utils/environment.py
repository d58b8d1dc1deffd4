"""Where a result came from: machine, versions, date. Every results/ file records these."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys

import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def machine_description(device: str = "cpu") -> str:
    text = f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"
    if (device.startswith("cuda") or device == "auto") and torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name(0)}"
    return text


def command_line() -> str:
    """The command as a user would type it: ``nnzoo ...`` or ``python script.py ...``."""
    argv = list(sys.argv)
    if argv and os.path.basename(argv[0]) in ("nnzoo", "__main__.py"):
        argv[0] = "nnzoo"
    else:
        argv.insert(0, "python")
    return " ".join(shlex.quote(a) for a in argv)


def provenance(device: str = "cpu") -> dict:
    """command, machine, torch, python, date: the header of every result file."""
    return {
        "command": command_line(),
        "machine": machine_description(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
