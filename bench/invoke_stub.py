"""A tiny stand-in for the Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`), so
a function that invokes another (the sweep dispatcher fanning out to sweep workers) can run on
the local stack: each invocation is handed to one of a pool of worker processes (each a
`FunctionProcess` behind its own runtime stub, as Lambda runs concurrent invocations in separate
sandboxes), and its answer returned (`RequestResponse`), or only queued (`Event`: 202, the worker's
answer kept for the harness).

    with InvokeStub(binary, "lifecycle-sweep", env, workers=8) as lam:   # AWS_ENDPOINT_URL_LAMBDA=lam.url
        ...                                                              # the dispatcher invokes
        lam.invocations                                                  # [Invocation], in answer order
        lam.peak_rss_kib()                                               # largest VmHWM of the workers

Standard library only."""

from __future__ import annotations

import json
import queue
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from runtime_stub import FunctionProcess, Invocation

PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class InvokeStub:
    def __init__(self, binary: Path, function_name: str, env: dict[str, str], workers: int,
                 timeout: float = 900.0, answer_slack: float = 0.0):
        self.binary, self.name, self.env, self.workers, self.timeout = binary, function_name, env, workers, timeout
        self.answer_slack = answer_slack  # how much longer than its deadline a worker's answer is waited for
        self.procs: list[FunctionProcess] = []
        self.free: queue.Queue = queue.Queue()
        self.invocations: list[Invocation] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.pending: list[threading.Thread] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def _reply(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                m = PATH.match(self.path)
                if not m:
                    return self._reply(404, b'{"Message":"no such route"}')
                if urllib.parse.unquote(m.group(1)).split(":")[-1] != stub.name:
                    return self._reply(404, json.dumps({"Type": "User", "Message": f"Function not found: {m.group(1)}"})
                                       .encode(), {"x-amzn-ErrorType": "ResourceNotFoundException"})
                event = json.loads(body or b"null")
                if self.headers.get("X-Amz-Invocation-Type", "RequestResponse") == "Event":
                    t = threading.Thread(target=stub._run, args=(event,), daemon=True)
                    with stub.lock:
                        stub.pending.append(t)
                    t.start()
                    return self._reply(202, b"")
                inv = stub._run(event)
                headers = {"X-Amz-Executed-Version": "$LATEST"}
                if inv is None or inv.error:
                    headers["X-Amz-Function-Error"] = "Unhandled"
                payload = inv.payload if inv is not None else {"errorMessage": "the worker failed"}
                self._reply(200, json.dumps(payload).encode(), headers)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, event) -> Invocation | None:
        fp = self.free.get()
        try:
            inv = fp.invoke(event, timeout=self.timeout + self.answer_slack, wait_log="sweep done",
                            deadline=self.timeout)
            with self.lock:
                self.invocations.append(inv)
            return inv
        except Exception as e:  # a worker that died: the invocation failed, as Lambda would say
            with self.lock:
                self.errors.append(str(e))
            return None
        finally:
            self.free.put(fp)

    def wait(self) -> None:
        """Waits for `Event` invocations still running."""
        with self.lock:
            pending = list(self.pending)
        for t in pending:
            t.join()

    def __enter__(self) -> "InvokeStub":
        for _ in range(self.workers):
            fp = FunctionProcess(self.binary, self.name, self.env)
            fp.__enter__()
            self.procs.append(fp)
        for fp in self.procs:
            fp.ready()
            self.free.put(fp)
        self.thread.start()
        return self

    def peak_rss_kib(self) -> int | None:
        return max((r for r in (fp.peak_rss_kib() for fp in self.procs) if r), default=None)

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        for fp in self.procs:
            fp.__exit__(None, None, None)
