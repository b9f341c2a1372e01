"""The one reader of infra/local.env (KEY=VALUE lines); variables already set win.

Python tools import it; the Makefile and shell scripts ask it for their own format:

    localenv.py make   lines for `include` (KEY ?= value, export KEY)
    localenv.py sh     `export KEY='value'` for the keys not already set (for eval)
    localenv.py json   the effective values as one JSON object

Standard library only.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
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


def main(argv: list[str]) -> int:
    fmt = argv[1] if len(argv) > 1 else "sh"
    values = parse()
    if fmt == "make":
        for key, value in values.items():
            print(f"{key} ?= {value.replace('$', '$$')}")
        print("export " + " ".join(values))
    elif fmt == "sh":
        for key, value in values.items():
            if key not in os.environ:
                print(f"export {key}={shlex.quote(value)}")
    elif fmt == "json":
        print(json.dumps({k: os.environ.get(k, v) for k, v in values.items()}))
    else:
        print(f"usage: {argv[0]} make|sh|json", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
