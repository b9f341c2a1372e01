"""Hostile input: schemathesis, driven by openapi.yaml, against every HTTP operation of the running
functions (`cargo lambda watch` on a table of this module's own).

Each function is fuzzed twice (examples, coverage and fuzzing phases, positive and negative data):
- without credentials (schemathesis makes up its own);
- with valid ones (a real administrator's bearer token, the service and operator keys from
  infra/local.env, a correctly signed webhook), the `{id}` path parameters pinned to real accounts,
  requests and notices, and a few schemas narrowed to values the service accepts (see `narrowed`),
  so that generated bodies get past auth into the parsers and the writes; the test asserts they did.
Checks (tests/hostile_hooks.py): `not_a_server_error` (503 allowed only as the form's documented
`form_disabled`) and `problem_json_errors`: every 4xx/5xx is application/problem+json with
type/title/status/code/detail (HTML only for the implementation-request page and its own posts).
A failure fails the test with schemathesis's report and a curl command that reproduces it; set
HOSTILE_SEED to the printed seed to replay a run. Per-run output: tests/artifacts/schemathesis-*.

Bounded: HOSTILE_MAX_EXAMPLES (default 50) fuzzed cases per operation, plus the coverage phase's
boundary cases; 150 s per run at most (about 2.5 min for the module on 2 cores).
"""

from __future__ import annotations

import collections
import copy
import json
import os
import subprocess
import uuid
from datetime import datetime, timezone

import pytest
import requests
import yaml

from conftest import ROOT, VENV_BIN, Customer, own_lambdas

OPENAPI = ROOT / "openapi.yaml"
MAX_EXAMPLES = int(os.environ.get("HOSTILE_MAX_EXAMPLES", "50"))
RUN_TIMEOUT_S = int(os.environ.get("HOSTILE_RUN_TIMEOUT", "150"))
SEED = os.environ.get("HOSTILE_SEED")  # unset: a new seed per run; set it to reproduce one
FUNCTIONS = ["signup", "accounts", "renewal", "submit-form"]
OPERATOR = {"x-operator-key": os.environ["OPERATOR_KEY"]}

CONFIG = """\
[checks]
enabled = false

[checks.not_a_server_error]
enabled = true
expected-statuses = ["2xx", "3xx", "4xx", "503"]

[checks.problem_json_errors]
enabled = true
"""


@pytest.fixture(scope="module")
def target(stack):
    with own_lambdas("fuzz") as fns:
        yield fns


@pytest.fixture(scope="module")
def real(target) -> dict:
    """Real things to aim at: an account per function (the accounts run may suspend its own),
    an implementation request and a copyright notice."""
    now = datetime.now(timezone.utc)
    out = {}
    for fn in ("accounts", "renewal"):
        c = Customer(target, now)
        out[fn] = {"id": c.id, "token": c.auth(now)["authorization"]}
    out["domain"] = Customer(target, now).domain  # data requests name it
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": f"fuzz-{uuid.uuid4().hex[:8]}@example.com",
            "phone": "+1 555 010 2030", "country": "US", "region": "Boston, MA", "product": "cloud",
            "request": "A CRM for 40 people", "privacy": "I accept"}
    r = target.at(now, "submit-form", "POST", "/forms/implementation-request", body)
    assert r.status == 201, r
    out["request_id"] = r.json()["request_id"]
    notice = {"signature": "Ada", "work": "A photo", "location": "https://example.org/x",
              "contact_address": "1 Main St", "contact_phone": "+1 555 010 2030",
              "contact_email": "ada@example.com", "good_faith": True, "perjury": True}
    r = target.at(now, "submit-form", "POST", "/forms/copyright-notice", notice)
    assert r.status == 201, r
    out["notice_id"] = r.json()["notice_id"]
    return out


def spec_for(fn: str, base: str, pins: dict[str, str] | None) -> dict:
    """openapi.yaml narrowed to one function's paths, served at its local URL; with `pins`, each
    path's `{id}` is that real id (by path prefix), and so is the account the webhook's
    PaymentIntent names in its metadata."""
    doc = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    doc["servers"] = [{"url": f"{base}/{fn}"}]
    doc["paths"] = {p: item for p, item in doc["paths"].items() if item.get("x-function") == fn}
    params = doc["components"]["parameters"]
    if pins and "/billing/webhook" in doc["paths"]:
        body = doc["paths"]["/billing/webhook"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        body["properties"]["type"] = {"enum": ["payment_intent.succeeded", "payment_intent.payment_failed"]}
        body["properties"]["data"] = {"type": "object", "required": ["object"], "properties": {"object": {
            "type": "object", "required": ["id", "metadata"], "properties": {
                "id": {"type": "string", "pattern": "^pi_[A-Za-z0-9]{1,24}$"},
                "amount": {"type": "integer", "minimum": 0}, "currency": {"enum": ["usd", "USD", "eur"]},
                "metadata": {"type": "object", "required": ["account_id"], "properties": {
                    "account_id": {"enum": [pins["/accounts/"]]},
                    "kind": {"enum": ["checkout", "renewal"]}}}}}}}
    for path, item in doc["paths"].items():
        real_id = next((v for prefix, v in (pins or {}).items() if path.startswith(prefix)), None)
        if real_id is None or "{id}" not in path:
            continue
        for holder in [item] + [op for m, op in item.items() if isinstance(op, dict) and "responses" in op]:
            plist = holder.get("parameters", [])
            for i, p in enumerate(plist):
                if "$ref" in p:
                    p = copy.deepcopy(params[p["$ref"].rsplit("/", 1)[1]])
                if p.get("in") == "path" and p.get("name") == "id":
                    p = copy.deepcopy(p)
                    p["schema"] = {"type": "string", "enum": [real_id]}
                plist[i] = p
    return doc


def narrowed(doc: dict, data_request_domain: str | None) -> dict:
    """For the run with valid credentials: values the document allows but the service refuses for
    reasons of state or settings (the current Terms version, countries not served or embargoed, a
    domain no account holds) are narrowed, so that most generated bodies are accepted and reach the
    writes. (Negative cases still come from the coverage phase and from the other run.)"""
    schemas = doc["components"]["schemas"]
    countries = {"enum": ["DE", "US", "GB", "FR", "JP", "BR", "ZA", "IN"]}
    signup = schemas["SignupRequest"]["properties"]
    signup["terms_version"] = {"const": os.environ.get("TERMS_VERSION", "2021-11-01")}
    signup["country"] = countries
    signup.pop("region", None)
    form = schemas["ImplementationRequest"]["properties"]
    form["country"], form["privacy"] = countries, {"const": "I accept"}
    form["region"] = {"type": "string", "pattern": "^[A-Za-z][A-Za-z ,.-]{0,40}$"}
    if data_request_domain:
        schemas["DataRequest"]["properties"]["domain"] = {"const": data_request_domain}
    return doc


def run_schemathesis(tmp_path, fn: str, base: str, headers: dict[str, str], pins: dict | None,
                     sign_webhook: bool, narrow_domain: str | None = None) -> subprocess.CompletedProcess:
    spec = tmp_path / f"openapi-{fn}.json"
    doc = spec_for(fn, base, pins)
    if headers:
        doc = narrowed(doc, narrow_domain)
    spec.write_text(json.dumps(doc))
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    env = dict(os.environ, SCHEMATHESIS_HOOKS="hostile_hooks", PYTHONPATH=str(ROOT / "tests"),
               HOSTILE_OPENAPI=str(OPENAPI))
    env["HOSTILE_DROPPED_LOG"] = str(tmp_path / "dropped.log")
    env["HOSTILE_CALLS_LOG"] = str(tmp_path / "calls.log")
    env["HOSTILE_INVOKE_BASE"] = base.rsplit("/lambda-url", 1)[0]
    env.pop("HOSTILE_WEBHOOK_SECRET", None)
    if sign_webhook:
        env["HOSTILE_WEBHOOK_SECRET"] = os.environ["STRIPE_WEBHOOK_SECRET"]
    cmd = [str(VENV_BIN / "schemathesis"), "--no-color", "--config-file", str(config), "run", str(spec),
           "--url", f"{base}/{fn}", "--phases", "examples,coverage,fuzzing",
           "--max-examples", str(MAX_EXAMPLES), "--request-timeout", "60", "--workers", "1",
           "--max-failures", "20", "--suppress-health-check", "all", "--warnings", "off",
           "--report", "junit", "--report-dir", str(tmp_path / "report"), "--output-sanitize", "false"]
    if SEED:
        cmd += ["--seed", SEED]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    mode = "authorized" if headers else "anonymous"
    dropped = (tmp_path / "dropped.log").read_text() if (tmp_path / "dropped.log").exists() else ""
    (ROOT / "tests" / "artifacts" / f"schemathesis-{fn}-{mode}.txt").write_text(
        out.stdout + out.stderr + "\n--- set aside by filter_failure ---\n" + dropped)
    return out


def calls(tmp_path) -> dict[tuple[str, str], collections.Counter]:
    out: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)
    log = tmp_path / "calls.log"
    for line in (log.read_text().splitlines() if log.exists() else []):
        method, path, status = line.split(" ")[:3]
        out[(method, path)][int(status)] += 1
    return out


def operations(fn: str) -> set[tuple[str, str]]:
    doc = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return {(m.upper(), p) for p, item in doc["paths"].items() if item.get("x-function") == fn
            for m in item if m in ("get", "put", "post", "delete", "patch")}


def report(out: subprocess.CompletedProcess) -> str:
    return f"exit {out.returncode}\n{out.stdout[-12000:]}\n{out.stderr[-3000:]}"


def invoke(target, fn: str, method: str, path: str, headers: dict, body: bytes) -> dict:
    """An API Gateway v2 event as AWS builds it for bytes the local function-URL emulator cannot
    carry: the body base64-encoded (isBase64Encoded), header values passed on as text."""
    import base64
    now = datetime.now(timezone.utc)
    event = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
             "headers": headers, "isBase64Encoded": True, "body": base64.b64encode(body).decode(),
             "requestContext": {"accountId": "123456789012", "apiId": "local", "domainName": "localhost",
                                "domainPrefix": "localhost", "requestId": uuid.uuid4().hex, "routeKey": "$default",
                                "stage": "$default", "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                                "timeEpoch": int(now.timestamp() * 1000),
                                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                         "sourceIp": "198.51.100.7", "userAgent": "pytest"}}}
    r = requests.post(f"http://127.0.0.1:{target.port}/2015-03-31/functions/{fn}/invocations", json=event, timeout=120)
    r.raise_for_status()
    return r.json()


def test_bytes_the_local_emulator_cannot_carry_get_a_4xx_problem(target):
    """What the hooks' filter_failure sets aside (the emulator's own 500) reaches the functions
    here, as API Gateway would deliver it: a body that is not UTF-8 is a 400 problem; header values
    that are not ASCII (Idempotency-Key, a bearer token, the service key, a webhook signature) are
    ignored or refused as a 4xx problem, never a 5xx."""
    junk = b";\n\xffG9\x00\xa5R\x7f"
    for fn, method, path in [("signup", "POST", "/signup"), ("accounts", "POST", "/sign-in"),
                             ("renewal", "POST", "/billing/webhook"),
                             ("submit-form", "POST", "/forms/implementation-request"),
                             ("submit-form", "POST", "/forms/copyright-notice"),
                             ("submit-form", "POST", "/forms/data-request")]:
        out = invoke(target, fn, method, path, {"content-type": "application/json"}, junk)
        assert out["statusCode"] == 400, (fn, path, out)
        assert out["headers"]["content-type"] == "application/problem+json", (fn, path, out)
        assert json.loads(out["body"])["status"] == 400
    form = json.dumps({"first_name": "Ada", "last_name": "Lovelace", "email": f"x-{uuid.uuid4().hex[:6]}@example.com",
                       "phone": "+1 555 010 2030", "country": "US", "region": "Boston", "product": "cloud",
                       "request": "CRM", "privacy": "I accept"}).encode()
    odd = "\u00d7\u00f8\u009b"
    cases = [("submit-form", "POST", "/forms/implementation-request", {"idempotency-key": odd}, form),
             ("accounts", "GET", f"/accounts/{uuid.uuid4().hex}", {"authorization": f"Bearer {odd}"}, b""),
             ("accounts", "POST", f"/accounts/{uuid.uuid4().hex}/activity", {"x-service-key": odd}, b""),
             ("renewal", "POST", "/billing/webhook", {"stripe-signature": f"t=1,v1={odd}"}, b"{}")]
    for fn, method, path, hdrs, body in cases:
        out = invoke(target, fn, method, path, dict(hdrs, **{"content-type": "application/json"}), body)
        assert out["statusCode"] < 500, (fn, path, out)
        if out["statusCode"] >= 400:
            assert out["headers"]["content-type"] == "application/problem+json", (fn, path, out)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_no_5xx_and_problem_json_errors_without_credentials(target, tmp_path, fn):
    out = run_schemathesis(tmp_path, fn, target.base, {}, None, sign_webhook=False)
    assert out.returncode == 0, report(out)
    seen = calls(tmp_path)
    assert operations(fn) <= set(seen), f"operations never called: {operations(fn) - set(seen)}"


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_no_5xx_and_problem_json_errors_with_valid_credentials(target, real, tmp_path, fn):
    headers = {"x-service-key": os.environ["SERVICE_KEY"], "x-operator-key": os.environ["OPERATOR_KEY"]}
    pins = None
    if fn in ("accounts", "renewal"):
        headers["authorization"] = real[fn]["token"]
        pins = {"/accounts/": real[fn]["id"]}
    elif fn == "submit-form":
        pins = {"/forms/implementation-request/": real["request_id"],
                "/forms/copyright-notice/": real["notice_id"]}
    try:
        out = run_schemathesis(tmp_path, fn, target.base, headers, pins, sign_webhook=(fn == "renewal"),
                               narrow_domain=real["domain"])
    finally:
        if fn == "submit-form":  # the run may have switched the form off: leave it on
            target.at(datetime.now(timezone.utc), "submit-form", "PUT", "/forms/implementation-request/settings",
                      {"disabled": False}, headers=OPERATOR)
    assert out.returncode == 0, report(out)
    # The credentials worked: every operation answered something other than 401, and most of
    # them succeeded at least once, so the fuzzed input got past auth into parsing and writes.
    seen = calls(tmp_path)
    assert operations(fn) <= set(seen), f"operations never called: {operations(fn) - set(seen)}"
    refused_only = sorted(op for op in operations(fn) if set(seen[op]) <= {401})
    assert refused_only == [], f"credentials refused on every call: {refused_only}"
    succeeded = {op for op in operations(fn) if any(200 <= st < 300 for st in seen[op])}
    summary = {f"{m} {p}": dict(seen[(m, p)]) for m, p in sorted(operations(fn))}
    (ROOT / "tests" / "artifacts" / f"schemathesis-{fn}-authorized-statuses.json").write_text(json.dumps(summary, indent=1))
    assert len(succeeded) >= len(operations(fn)) // 2, f"too few operations ever succeeded: {summary}"


def test_a_webhook_signature_timestamp_at_the_edge_of_i64_is_a_400_problem(target):
    for t in ("-9223372036854775808", "-9223372036854775000", "9223372036854775807"):
        out = invoke(target, "renewal", "POST", "/billing/webhook",
                     {"content-type": "application/json", "stripe-signature": f"t={t},v1=00"}, b"{}")
        assert out.get("statusCode") == 400, (t, out)
        assert json.loads(out["body"])["code"] == "bad_signature", (t, out)
