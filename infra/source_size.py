#!/usr/bin/env python3
"""Fails when a Rust source file has more than 500 lines before its test module: big files hide
their subjects (issue: code shape). Test modules (`#[cfg(test)]` onward, files named `tests.rs` or
`*_tests.rs`) and files under tests/ are not counted."""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 500
ROOT = Path(__file__).resolve().parent.parent


def code_lines(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]":
            return i
    return len(lines)


def main() -> int:
    files = [p for d in ("shared", "functions", "infra") for p in (ROOT / d).rglob("*.rs")
             if "tests" not in p.relative_to(ROOT).parts and not p.name.endswith("_tests.rs") and p.name != "tests.rs"]
    over = sorted((code_lines(p), p.relative_to(ROOT)) for p in files if code_lines(p) > LIMIT)
    for n, p in over:
        print(f"{p}: {n} lines of code (limit {LIMIT})")
    print(f"{len(files)} source files, largest {max(code_lines(p) for p in files)} lines of code")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
