"""A counting pass-through in front of localstripe (the Stripe emulator), in the spirit of
`ddb_proxy.py`: every request a function makes to Stripe's REST API is seen on the wire, whatever
code path made it, named by method and route (ids replaced: `POST /v1/setup_intents`,
`GET /v1/payment_methods/{id}`), with its round-trip time. The functions get `STRIPE_API_BASE`
pointing here; the bench's own calls (the browser's part: creating a card, confirming a
SetupIntent, reading events) go to localstripe directly and are not counted.

Standard library only. The harness reads `calls` between invocations (one function runs at a
time), so no request is attributed to the wrong operation."""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler

from ddb_proxy import HOP_BY_HOP, Call, QuietServer


def route(method: str, path: str) -> str:
    """`POST /v1/payment_methods/pm_123/attach` -> `POST /v1/payment_methods/{id}/attach`."""
    # Stripe's paths alternate a collection and an object id after `/v1`:
    # /v1/<collection>/<id>/<action or collection>/<id>…
    segs = path.split("?", 1)[0].split("/")
    segs = ["{id}" if i >= 3 and i % 2 == 1 and s else s for i, s in enumerate(segs)]
    return f"{method} {'/'.join(segs)}"


class StripeProxy:
    def __init__(self, upstream_port: int, poll_interval: float = 0.05):
        self.upstream_port = upstream_port
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self._local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # see ddb_proxy.py: Nagle + delayed ACK add ~40 ms

            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                proxy._forward(self, "GET")

            def do_POST(self):
                proxy._forward(self, "POST")

            def do_DELETE(self):
                proxy._forward(self, "DELETE")

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(poll_interval,), daemon=True)

    def __enter__(self) -> "StripeProxy":
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
            c = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
            self._local.conn = c
        return c

    def _forward(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
        if body or method != "GET":
            headers["Content-Length"] = str(len(body))
        t = time.monotonic()
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed meanwhile
            conn = self._conn()
            try:
                conn.request(method, h.path, body=body or None, headers=headers)
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
        with self.lock:
            self.calls.append(Call(route(method, h.path), resp.status, 0.0, 0.0, seconds))
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP:
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
