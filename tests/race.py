"""Races that really race. Lambda runs concurrent invocations in separate sandboxes, so a race
test runs K separate function processes, each behind its own Runtime API stub
(bench/runtime_stub.py), and hands them their events at one moment, behind a barrier.
`cargo lambda watch` is not used for races: at its default it runs one invocation at a time.

    with Fleet("lifecycle-sweep", 4, table) as fleet:
        outcomes = fleet.race([event] * 4)        # one event per instance, released together
        assert_overlapped(outcomes)               # every instance was in flight at one moment
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from runtime_stub import FunctionProcess, Invocation  # noqa: E402

_built: set[str] = set()
_build_lock = threading.Lock()


def binary(function: str) -> Path:
    """The function's debug binary, built once per session (the same build `cargo lambda watch` uses)."""
    with _build_lock:
        if function not in _built:
            subprocess.run(["cargo", "build", "-q", "--locked", "-p", function], cwd=ROOT, check=True)
            _built.add(function)
    return ROOT / "target" / "debug" / function


class Fleet:
    """K instances of one function, as K Lambda sandboxes: separate processes, separate stubs."""

    def __init__(self, function: str, k: int, table: str, env: dict | None = None):
        self.function, self.k = function, k
        from conftest import high_limits
        self.env = dict(os.environ, TABLE_NAME=table, RUST_LOG=os.environ.get("RUST_LOG", "info"),
                        RATE_LIMITS_JSON=high_limits())
        self.env.update(env or {})
        self.procs: list[FunctionProcess] = []

    def __enter__(self) -> "Fleet":
        path = binary(self.function)
        for _ in range(self.k):
            p = FunctionProcess(path, self.function, self.env)
            p.__enter__()
            self.procs.append(p)
        for p in self.procs:
            p.ready(timeout=60)
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.__exit__(*exc)

    def race(self, events: list, timeout: float = 300.0) -> list[Invocation]:
        """Hands events[i] to instance i, all released by one barrier."""
        if len(events) > self.k:
            raise ValueError(f"{len(events)} events for {self.k} instances")
        return race(list(zip(self.procs, events)), timeout)

    def logs(self) -> list[str]:
        return [line for p in self.procs for line in p.lines]


def race(pairs: list[tuple[FunctionProcess, object]], timeout: float = 300.0) -> list[Invocation]:
    """Hands each event to its process, all released by one barrier (processes may be of different
    functions); returns each answer with the moments it was handed out and answered."""
    barrier = threading.Barrier(len(pairs))
    out: list[Invocation | BaseException | None] = [None] * len(pairs)

    def run(i: int) -> None:
        proc, event = pairs[i]
        try:
            barrier.wait()
            out[i] = proc.invoke(event, timeout=timeout)
        except BaseException as e:  # noqa: BLE001 - re-raised below, in the test's thread
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(pairs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in out:
        if isinstance(o, BaseException):
            raise o
    return [o for o in out if isinstance(o, Invocation)]


def overlap(outcomes: list[Invocation]) -> float:
    """Seconds during which every invocation was in flight at once (negative: they were not)."""
    return min(o.ended for o in outcomes) - max(o.started for o in outcomes)


def assert_overlapped(outcomes: list[Invocation], what: str = "") -> float:
    """Fails unless every invocation was in flight at one moment; prints the overlap."""
    o = overlap(outcomes)
    spans = ", ".join(f"{x.seconds * 1000:.0f}" for x in outcomes)
    print(f"race{(' ' + what) if what else ''}: {len(outcomes)} in flight together for {o * 1000:.1f} ms "
          f"(each took {spans} ms)")
    assert o > 0, f"the invocations ran one after another, not together (overlap {o * 1000:.1f} ms)"
    return o
