#!/usr/bin/env python3
"""Smoke test of a running API: a deployed stack (the `ApiUrl` output) or `make dev`'s functions.

    infra/smoke.py https://<api-id>.execute-api.us-east-1.amazonaws.com/
    infra/smoke.py http://127.0.0.1:9000/lambda-url          (make dev; or --local with any base)

Four read-only requests, nothing written: a domain label's availability, the plan catalog, the
implementation-request page, and a route that does not exist. Locally, `cargo lambda watch`
serves each function at <base>/lambda-url/<function>/<route>; the function of each route is read
from template.yaml's HttpApi events. Standard library only. Exits 1 naming every failed check,
2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
TIMEOUT = 60  # a cold start, or `cargo lambda watch` compiling a function on its first request


def template_routes(template: Path = TEMPLATE) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the function's binary, from each AWS::Serverless::Function's HttpApi events.

    A line scan, not a YAML parser (standard library only): it reads the `Binary:` of each
    resource and the `Method:`/`Path:` pairs under it, which is how template.yaml writes them."""
    routes: dict[tuple[str, str], str] = {}
    binary, method = None, None
    for line in template.read_text(encoding="utf-8").splitlines():
        if re.match(r"^  [A-Za-z0-9]+:\s*$", line):  # a new resource (or output, parameter)
            binary, method = None, None
        elif m := re.match(r"^\s+Binary:\s*([\w-]+)\s*$", line):
            binary = m.group(1)
        elif m := re.match(r"^\s+Method:\s*(\w+)\s*$", line):
            method = m.group(1).upper()
        elif (m := re.match(r"^\s+Path:\s*(/\S*)\s*$", line)) and binary and method:
            routes[(method, m.group(1))] = binary
            method = None
    return routes


class Failed(Exception):
    """One check's failure, with what was wrong."""


def need(condition: object, message: str) -> None:
    if not condition:  # not `assert`: the checks must run under `python -O` too
        raise Failed(message)


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def get(url: str) -> Reply:
    req = urllib.request.Request(url, headers={"accept": "*/*", "user-agent": "saas-backend-smoke"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return Reply(r.status, r.headers.get("content-type", ""), r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers.get("content-type", ""), e.read())


class Api:
    def __init__(self, base: str, local: bool):
        self.base = base.rstrip("/")
        self.local = local
        if local and not self.base.endswith("/lambda-url"):
            self.base += "/lambda-url"
        self.routes = template_routes() if local else {}

    def url(self, method: str, route: str, path: str) -> str:
        """`route` is the template's path (with `{params}`), `path` the filled-in one."""
        if not self.local:
            return self.base + path
        try:
            function = self.routes[(method, route)]
        except KeyError:
            raise SystemExit(f"smoke: {method} {route} is not an HttpApi event of {TEMPLATE}") from None
        return f"{self.base}/{function}{path}"


def media_type(reply: Reply) -> str:
    return reply.content_type.split(";")[0].strip().lower()


def check_domain(api: Api) -> str:
    label = "smoke-" + secrets.token_hex(5)
    r = get(api.url("GET", "/signup/domains/{label}", f"/signup/domains/{label}"))
    need(r.status == 200, f"status {r.status}: {r.body[:200]!r}")
    need(media_type(r) == "application/json", f"content-type {r.content_type!r}")
    doc = r.json()
    need(isinstance(doc.get("available"), bool), f"no boolean `available` in {doc}")
    return f"{label} available={doc['available']}"


def check_plans(api: Api) -> str:
    r = get(api.url("GET", "/plans", "/plans"))
    need(r.status == 200, f"status {r.status}: {r.body[:200]!r}")
    need(media_type(r) == "application/json", f"content-type {r.content_type!r}")
    plans = r.json().get("plans")
    need(isinstance(plans, list) and plans, f"no list of plans in {r.body[:200]!r}")
    need(all(isinstance(p, dict) and "id" in p for p in plans), "a plan without an id")
    return f"{len(plans)} plans: " + ", ".join(str(p["id"]) for p in plans)


def check_form_page(api: Api) -> str:
    route = "/forms/implementation-request"
    r = get(api.url("GET", route, route))
    need(r.status == 200, f"status {r.status} (503: the form is disabled by an operator)")
    need(media_type(r) == "text/html", f"content-type {r.content_type!r}")
    need(b"<form" in r.body.lower(), "no <form> in the page")
    return f"{len(r.body)} bytes of HTML"


def check_portal_page(api: Api) -> str:
    route = "/app/sign-in"
    r = get(api.url("GET", route, route))
    need(r.status == 200, f"status {r.status}: {r.body[:200]!r}")
    need(media_type(r) == "text/html", f"content-type {r.content_type!r}")
    need(b'name="csrf"' in r.body, "no CSRF field in the sign-in form")
    return f"{len(r.body)} bytes of HTML with its CSRF field"


def check_unknown_route(api: Api) -> str:
    path = "/smoke-no-such-route-" + secrets.token_hex(4)
    if api.local:  # any function's router: signup's
        url = f"{api.base}/{api.routes[('GET', '/signup/domains/{label}')]}{path}"
    else:
        url = api.base + path
    r = get(url)
    need(r.status == 404, f"status {r.status}: {r.body[:200]!r}")
    if media_type(r) == "application/problem+json":
        problem = r.json()
        need(problem.get("status") in (None, 404) and problem.get("code"), f"not a problem: {problem}")
        return f"404 problem+json, code {problem['code']}"
    # The HTTP API itself answers a route it has no integration for (the functions never see it).
    need(not api.local, f"content-type {r.content_type!r}, not application/problem+json")
    need(media_type(r) == "application/json" and r.json() == {"message": "Not Found"},
         f"content-type {r.content_type!r}: {r.body[:200]!r}")
    return "404 from API Gateway (no route matched, so no function answered)"


CHECKS = [
    ("GET /signup/domains/<random label>: 200 JSON with `available`", check_domain),
    ("GET /plans: 200 JSON with a list of plans", check_plans),
    ("GET /forms/implementation-request: 200 text/html", check_form_page),
    ("GET /app/sign-in: 200 text/html, the portal's form with its CSRF field", check_portal_page),
    ("GET <unknown route>: 404", check_unknown_route),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="the ApiUrl output, or http://127.0.0.1:$LAMBDA_PORT/lambda-url for make dev")
    ap.add_argument("--local", action="store_true",
                    help="map each route to <url>/<function>/<route> (implied by a URL ending in /lambda-url)")
    args = ap.parse_args(argv)
    if not re.match(r"^https?://[^/\s]+", args.url):
        ap.error(f"not an http(s) URL: {args.url!r}")
    local = args.local or args.url.rstrip("/").endswith("/lambda-url")
    api = Api(args.url, local)
    print(f"smoke test of {api.base} ({'local functions' if local else 'HTTP API'})")
    failed = []
    for name, check in CHECKS:
        try:
            print(f"  ok    {name}: {check(api)}")
        except (Failed, ValueError, OSError) as e:  # ValueError: a body that is not JSON
            print(f"  FAIL  {name}: {e or type(e).__name__}")
            failed.append(name)
    if failed:
        print(f"smoke test FAILED: {len(failed)} of {len(CHECKS)} checks", file=sys.stderr)
        return 1
    print(f"smoke test passed: {len(CHECKS)} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
