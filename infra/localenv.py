"""Loads infra/local.env (KEY=VALUE lines) into os.environ; variables already set win.

Shared by stack.py and bootstrap.py so every local tool reads the same settings.
Standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
ROOT_DIR = INFRA_DIR.parent
ENV_FILE = INFRA_DIR / "local.env"


def parse(path: Path = ENV_FILE) -> dict[str, str]:
    """Returns the file's settings. Blank lines and `#` comments are skipped; an optional
    `export ` prefix and matching surrounding quotes are removed."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load(path: Path = ENV_FILE) -> dict[str, str]:
    """Puts the file's settings into os.environ unless already set; returns the effective values
    of the file's keys."""
    effective: dict[str, str] = {}
    for key, value in parse(path).items():
        effective[key] = os.environ.setdefault(key, value)
    return effective


def require(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"{name} is not set (expected in {ENV_FILE} or the environment)")
    return value
