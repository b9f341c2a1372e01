"""A tiny stand-in for the Lambda Runtime API (2018-06-01), enough to start a function binary,
see when it first asks for work, feed it events one at a time and read its answers.

    with FunctionProcess(binary, name, env) as fn:   # starts the process behind its own stub
        fn.ready()                                   # seconds from spawn to its first `next`
        out = fn.invoke({"...": "..."})              # -> Invocation(payload, seconds, logs, error)
        fn.peak_rss_kib()                            # VmHWM of the live process

Standard library only. Times come from time.monotonic(): t0 just before the process is spawned,
t1 when the stub receives `GET /2018-06-01/runtime/invocation/next`."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PREFIX = "/2018-06-01/runtime"
_STOP = object()


@dataclass
class Invocation:
    payload: object  # the function's JSON answer (or its error document)
    seconds: float  # event handed out on `next` -> answer posted
    logs: list[str] = field(default_factory=list)
    error: bool = False
    started: float = 0.0  # time.monotonic() when the event was handed out on `next`
    ended: float = 0.0  # time.monotonic() when its answer arrived


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Cold-start runs kill the function while its `next` is pending: a reset socket is expected.
        pass


class RuntimeStub:
    """One stub per function process: a queue of events, the answers by request id."""

    def __init__(self, function_name: str):
        self.function_name = function_name
        self.events: queue.Queue = queue.Queue()
        self.first_next: float | None = None
        self.first_next_seen = threading.Event()
        self.handed_out: dict[str, float] = {}
        self.answers: dict[str, tuple[object, float, bool]] = {}
        self.answered = threading.Condition()
        self.init_error: object | None = None
        self.closing = False
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every exchange.
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                now = time.monotonic()
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                if stub.first_next is None:
                    stub.first_next = now
                    stub.first_next_seen.set()
                while True:
                    try:
                        item = stub.events.get(timeout=0.5)
                    except queue.Empty:
                        if stub.closing:
                            return self._reply(410, b"{}")
                        continue
                    break
                if item is _STOP:
                    return self._reply(410, b"{}")
                rid, event, deadline_ms = item
                stub.handed_out[rid] = time.monotonic()
                self._reply(200, json.dumps(event).encode(), {
                    "Lambda-Runtime-Aws-Request-Id": rid,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        f"arn:aws:lambda:us-east-1:123456789012:function:{stub.function_name}",
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self):
                now = time.monotonic()
                body = self._body()
                m = re.fullmatch(rf"{PREFIX}/invocation/([^/]+)/(response|error)", self.path)
                if m:
                    rid, kind = m.groups()
                    try:
                        doc = json.loads(body or b"null")
                    except ValueError:
                        doc = body.decode(errors="replace")
                    with stub.answered:
                        stub.answers[rid] = (doc, now, kind == "error")
                        stub.answered.notify_all()
                    return self._reply(202, b'{"status":"OK"}')
                if self.path == f"{PREFIX}/init/error":
                    stub.init_error = body.decode(errors="replace")
                    stub.first_next_seen.set()
                    return self._reply(202, b'{"status":"OK"}')
                self._reply(404, b'{"errorType":"NotFound"}')

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        # A short poll interval: shutdown() waits for it, once per function process.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.closing = True
        self.events.put(_STOP)
        self.server.shutdown()
        self.server.server_close()


def lambda_env(function_name: str, runtime_port: int, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"2026/01/01/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "NO_COLOR": "1",
    })
    return env


class FunctionProcess:
    """One function binary behind its own runtime stub; logs (stdout+stderr) collected by line."""

    def __init__(self, binary: Path, function_name: str, env: dict[str, str]):
        self.binary = binary
        self.name = function_name
        self.extra_env = env
        self.stub: RuntimeStub | None = None
        self.proc: subprocess.Popen | None = None
        self.t0 = 0.0
        self.lines: list[str] = []
        self.lines_lock = threading.Lock()

    def __enter__(self) -> "FunctionProcess":
        self.stub = RuntimeStub(self.name)
        env = lambda_env(self.name, self.stub.port, self.extra_env)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([str(self.binary)], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._pump, daemon=True).start()
        return self

    def _pump(self) -> None:
        assert self.proc and self.proc.stdout
        for raw in self.proc.stdout:
            with self.lines_lock:
                self.lines.append(ANSI.sub("", raw.decode(errors="replace").rstrip("\n")))

    def ready(self, timeout: float = 30.0) -> float:
        """Seconds from spawn to the first `next` request."""
        assert self.stub and self.proc
        if not self.stub.first_next_seen.wait(timeout) or self.stub.first_next is None:
            raise RuntimeError(f"{self.name}: no `next` within {timeout}s "
                               f"(init error: {self.stub.init_error}); log:\n" + "\n".join(self.lines[-20:]))
        return self.stub.first_next - self.t0

    def invoke(self, event: object, timeout: float = 900.0, wait_log: str | None = None,
               deadline: float | None = None) -> Invocation:
        """Hands one event out and waits for the answer. With `wait_log`, also waits (briefly) for a
        log line containing that text, since the pipe may deliver the line after the answer."""
        assert self.stub and self.proc
        rid = str(uuid.uuid4())
        with self.lines_lock:
            start_line = len(self.lines)
        # The function's deadline (Lambda's timeout); the wait for its answer may be longer.
        deadline_ms = int(time.time() * 1000 + (deadline or timeout) * 1000)
        self.stub.events.put((rid, event, deadline_ms))
        end = time.monotonic() + timeout
        with self.stub.answered:
            while rid not in self.stub.answers:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log:\n"
                                       + "\n".join(self.lines[-30:]))
                if time.monotonic() > end:
                    raise RuntimeError(f"{self.name}: no answer within {timeout}s")
                self.stub.answered.wait(0.2)
            doc, t_answer, is_error = self.stub.answers.pop(rid)
        t_start = self.stub.handed_out.get(rid, t_answer)
        seconds = t_answer - t_start
        if wait_log:
            until = time.monotonic() + 3.0
            while time.monotonic() < until:
                with self.lines_lock:
                    if any(wait_log in ln for ln in self.lines[start_line:]):
                        break
                time.sleep(0.005)
        with self.lines_lock:
            logs = self.lines[start_line:]
        return Invocation(doc, seconds, logs, is_error, t_start, t_answer)

    def peak_rss_kib(self) -> int | None:
        """VmHWM (peak resident set) of the live process, from /proc."""
        assert self.proc
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # as Lambda does to a frozen sandbox
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.stub:
            self.stub.close()
