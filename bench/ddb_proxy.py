"""A counting pass-through in front of DynamoDB Local (or the SES emulator): every request a
function makes is seen on the wire, by operation, whatever code path made it, with its round-trip
time. For DynamoDB each forwarded request also asks for `ReturnConsumedCapacity: TOTAL` (it changes
nothing else; DynamoDB Local does not check the signature of the body), so the bench can report
capacity units too. The operation is the `X-Amz-Target` suffix (JSON protocol) or the form body's
`Action` (query protocol, SES).

Standard library only. The harness reads `calls` between invocations (one function runs at a
time), so no request is attributed to the wrong operation."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Operations that accept ReturnConsumedCapacity.
CAPACITY_OPS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection",
              "te", "trailer", "upgrade"}


@dataclass
class Call:
    op: str
    status: int
    read_units: float
    write_units: float
    seconds: float  # round trip to DynamoDB Local, as the proxy saw it


def _units(op: str, resp: dict) -> tuple[float, float]:
    cc = resp.get("ConsumedCapacity")
    if cc is None:
        return 0.0, 0.0
    rcu = wcu = 0.0
    for c in cc if isinstance(cc, list) else [cc]:
        r, w = c.get("ReadCapacityUnits"), c.get("WriteCapacityUnits")
        if r is None and w is None:  # only the total: reads for reads, writes for writes
            total = float(c.get("CapacityUnits", 0.0))
            r, w = (total, 0.0) if op in READ_OPS else (0.0, total)
        rcu += float(r or 0.0)
        wcu += float(w or 0.0)
    return rcu, wcu


READ_OPS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A function process killed mid-connection (cold-start runs) resets its sockets: expected.
        pass


class DynamoProxy:
    def __init__(self, upstream_port: int, inject_capacity: bool = True, poll_interval: float = 0.05):
        self.upstream_port = upstream_port
        self.inject_capacity = inject_capacity
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self._local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every exchange.
            disable_nagle_algorithm = True

            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                proxy._forward(self)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(poll_interval,), daemon=True)

    def __enter__(self) -> "DynamoProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mark(self) -> int:
        with self.lock:
            return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self.lock:
            return list(self.calls[mark:])

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=300)
            self._local.conn = c
        return c

    def _forward(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        target = h.headers.get("X-Amz-Target", "")
        op = target.rsplit(".", 1)[-1]
        if not target:
            op = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
        if self.inject_capacity and op in CAPACITY_OPS:
            try:
                doc = json.loads(body or b"{}")
                doc.setdefault("ReturnConsumedCapacity", "TOTAL")
                body = json.dumps(doc).encode()
            except ValueError:
                pass
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        t = time.monotonic()
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed meanwhile
            conn = self._conn()
            try:
                conn.request("POST", h.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    h.send_error(502)
                    return
        seconds = time.monotonic() - t
        rcu = wcu = 0.0
        try:
            doc = json.loads(data or b"{}")
            if isinstance(doc, dict):
                rcu, wcu = _units(op, doc)
        except ValueError:
            pass
        with self.lock:
            self.calls.append(Call(op, resp.status, rcu, wcu, seconds))
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP:
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def summarize(calls: list[Call]) -> dict:
    by_op: dict[str, int] = {}
    for c in calls:
        by_op[c.op] = by_op.get(c.op, 0) + 1
    return {
        "requests": len(calls),
        "by_op": dict(sorted(by_op.items())),
        "rcu": round(sum(c.read_units for c in calls), 1),
        "wcu": round(sum(c.write_units for c in calls), 1),
        "errors": sum(1 for c in calls if c.status >= 400),
        "seconds": sum(c.seconds for c in calls),
    }
