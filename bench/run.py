#!/usr/bin/env python3
"""`make bench`: release builds of every function measured on the local stack.

Measures, and prints as one markdown table (stdout, and bench/latest.md):
  1. cold start per function: process spawn -> its first `GET /runtime/invocation/next`, against a
     stub of the Lambda Runtime API (bench/runtime_stub.py); median and p90 of BENCH_STARTS starts
  2. DynamoDB requests per operation (signup, verify, sign-in, save card: setup and confirm,
     checkout, payment webhook, implementation request, copyright notice, data request): the
     function's own `ddb_requests=` log line, and the requests seen on the wire by a counting
     proxy in front of DynamoDB Local (bench/ddb_proxy.py), with the capacity units it reports;
     and, where Stripe is called, its requests: the `stripe_requests=` log line and the wire as
     seen by a counting proxy in front of localstripe (bench/stripe_proxy.py)
  3. the sweep at 1k, 10k and 100k accounts with the same due set: requests, items read,
     due accounts per second; and, on rows of its own, the one-time Terms rollout pass that the
     first sweep of a table makes over every account
  4. peak memory (VmHWM) of each function process over its runs
  5. the shipping build (`make package`'s command, arm64) from a clean target directory, and the
     size of each zip it makes

Settings (environment, see bench/README.md): BENCH_SHIP_REUSE=1, BENCH_SKIP_BUILD=1,
BENCH_STARTS (20), BENCH_SIZES (1000,10000,100000), BENCH_DUE (50), BENCH_REPS (5).
Progress goes to stderr. Run with .tools/venv/bin/python (boto3); `make bench` does.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "infra"))
sys.path.insert(0, str(BENCH))
import localenv  # noqa: E402

localenv.load()

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402

from ddb_proxy import DynamoProxy, summarize  # noqa: E402
from runtime_stub import FunctionProcess  # noqa: E402
from stripe_proxy import StripeProxy  # noqa: E402
from invoke_stub import InvokeStub  # noqa: E402

VENV_BIN = ROOT / ".tools" / "venv" / "bin"
PY = str(VENV_BIN / "python")
CARGO_LAMBDA = str(VENV_BIN / "cargo-lambda")
# The operator tool: table keys and the due-index shard come from the Rust rules, never spelled here.
SAASCTL = ROOT / "target" / "debug" / "saasctl"


def discover_functions() -> list[str]:
    """Every function of the workspace (`functions/<dir>/` with a `src/main.rs`), by its package
    name: the known ones in their usual order, any new one after them."""
    found = []
    for cargo in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        if not (cargo.parent / "src" / "main.rs").exists():
            continue
        m = re.search(r'^name\s*=\s*"([^"]+)"', cargo.read_text(), re.M)
        found.append(m.group(1) if m else cargo.parent.name)
    usual = ["signup", "accounts", "renewal", "submit-form", "lifecycle-sweep", "sweep-dispatcher"]
    return [f for f in usual if f in found] + [f for f in found if f not in usual]


FUNCTIONS = discover_functions()
DISPATCHER = "sweep-dispatcher"  # fans the schedule out to sweep workers (when the workspace has it)

STARTS = int(os.environ.get("BENCH_STARTS", "20"))
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "1000,10000,100000").split(",") if x.strip()]
DUE = int(os.environ.get("BENCH_DUE", "50"))
REPS = int(os.environ.get("BENCH_REPS", "5"))
SWEEP_WORKERS = int(os.environ.get("BENCH_SWEEP_WORKERS", "8"))
# Month end (the backlog rows): every account due at once, drained by 1–8 workers × 1–32 in flight.
BACKLOG = [int(x) for x in os.environ.get("BENCH_BACKLOG", "10000,50000").split(",") if x.strip()]
BACKLOG_WORKERS = [int(x) for x in os.environ.get("BENCH_BACKLOG_WORKERS", "1,2,4,8").split(",") if x.strip()]
BACKLOG_IN_FLIGHT = [int(x) for x in os.environ.get("BENCH_BACKLOG_IN_FLIGHT", "1,8,32").split(",") if x.strip()]
BACKLOG_SECONDS = float(os.environ.get("BENCH_BACKLOG_SECONDS", "25"))
FAR_FUTURE = int(datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp())
# Every request of the bench happens at chosen event times (SPEC: Time), starting here.
T0 = datetime(2031, 3, 2, 9, 0, tzinfo=timezone.utc)
RUN_ID = uuid.uuid4().hex[:8]
SES_PROXY: DynamoProxy | None = None  # counts and times the functions' SES calls
STRIPE_PROXY: StripeProxy | None = None  # counts and times the functions' Stripe calls
# The bench itself plays the browser and Stripe's webhook delivery: it talks to localstripe directly.
STRIPE_DIRECT = os.environ["STRIPE_API_BASE"].rstrip("/")
STRIPE_KEY = os.environ["STRIPE_SECRET_KEY"]
CARD_OK = "4242424242424242"
STARTED = time.monotonic()
LOAD_AT_START = " ".join(f"{x:.1f}" for x in os.getloadavg())


def log(msg: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


def ddb():
    return boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
                        config=BotoConfig(max_pool_connections=32, retries={"max_attempts": 10}))


def fn_env(table_name: str, proxy: DynamoProxy) -> dict[str, str]:
    """What differs from the local settings for a function process: its table, the AWS and Stripe
    endpoints pointing at the counting proxies, every rate limit out of reach (the bench sends many
    requests from one source IP within one event hour) and local replay (its event times are in
    2031, far from the clock)."""
    env = {"TABLE_NAME": table_name, "AWS_ENDPOINT_URL_DYNAMODB": proxy.url,
           "RATE_LIMITS_JSON": high_limits(), "FORM_LIMITS_JSON": high_form_limits(), "LOCAL_REPLAY": "1",
           # As template.yaml sets it on Lambda: the root certificates from the one bundle file, not
           # also from a directory this machine's environment may name (SSL_CERT_DIR).
           "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt", "SSL_CERT_DIR": ""}
    if SES_PROXY is not None:
        env["AWS_ENDPOINT_URL_SES"] = SES_PROXY.url
    if STRIPE_PROXY is not None:
        env["STRIPE_API_BASE"] = STRIPE_PROXY.url
    return env


def bootstrap(*args: str) -> None:
    subprocess.run([PY, str(ROOT / "infra" / "bootstrap.py"), *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- build

def host_arch() -> str:
    m = platform.machine()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m)




# Issue 17's figures before the lean build, for the rows that report against them.
BEFORE = {"zip": "7.4–7.9 MiB (x86_64, two TLS stacks)", "ship": "about 19 min (cargo-lambda's settings, 2 cores)"}
ZIP_GOAL_MIB = 5.0
SHIP_GOAL_S = 600


def build() -> tuple[str, dict[str, Path], dict[str, int | None], dict[str, float | None], str]:
    """The shipping build, timed from a clean target directory: `make package`'s own command
    (arm64, cross-built with zig) into `target/ship-bench/`, wiped first unless BENCH_SHIP_REUSE=1.
    Then a host `cargo build --release` of the functions (same `[profile.release]`) for the binaries the
    measurements run, since arm64 binaries cannot run here."""
    build_saasctl()
    profile = "workspace [profile.release], `make package`'s command"
    ship_dir = ROOT / "target" / "ship-bench"
    lambda_dir = ship_dir / "lambda"
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}", CARGO_TARGET_DIR=str(ship_dir / "target"))
    cmd = [CARGO_LAMBDA, "lambda", "build", "--release", "--arm64", "--output-format", "zip",
           "--lambda-dir", str(lambda_dir)]
    times: dict[str, float | None] = {"ship": None, "host": None}
    if os.environ.get("BENCH_SKIP_BUILD", "") in ("", "0"):
        if os.environ.get("BENCH_SHIP_REUSE", "") in ("", "0") and ship_dir.exists():
            log(f"removing {ship_dir} so the shipping build starts clean")
            subprocess.run(["rm", "-rf", str(ship_dir)], check=True)
        log(f"shipping build: cargo {' '.join(cmd[1:])} (from a clean target directory: minutes)")
        t = time.monotonic()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=sys.stderr)
        times["ship"] = time.monotonic() - t
        log("host release binaries for the measurements: cargo build --release (the functions)")
        t = time.monotonic()
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True, stdout=sys.stderr)
        times["host"] = time.monotonic() - t
    else:
        log("BENCH_SKIP_BUILD: measuring the binaries and zips already built")
    bins = {f: ROOT / "target" / "release" / f for f in FUNCTIONS}
    zips = {}
    for f in FUNCTIONS:
        z = lambda_dir / f / "bootstrap.zip"
        zips[f] = z.stat().st_size if z.exists() else None
    for b in bins.values():
        if not b.exists():
            raise SystemExit(f"{b} missing after the build")
    log(f"builds done: shipping {times['ship'] or 0:.0f} s, host {times['host'] or 0:.0f} s")
    return "arm64", bins, zips, times, profile


def build_saasctl() -> None:
    """The operator tool the bench takes key templates and shards from (a debug build, not
    measured and not counted in the build step; a no-op when it is up to date)."""
    log("building saasctl: cargo build -q --locked -p saasctl")
    subprocess.run(["cargo", "build", "-q", "--locked", "-p", "saasctl"], cwd=ROOT, check=True, stdout=sys.stderr)
    if not SAASCTL.exists():
        raise SystemExit(f"{SAASCTL} missing after the build")


@functools.lru_cache(maxsize=None)
def key_templates() -> dict[str, list[str]]:
    """Every table key as `[PK, SK]` templates with `{placeholders}` (`saasctl keys`), read once."""
    out = subprocess.run([str(SAASCTL), "keys"], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@functools.lru_cache(maxsize=None)
def high_limits() -> str:
    """`RATE_LIMITS_JSON` with every limit out of reach; the names come from `saasctl rate-limits`
    (the functions refuse a name they do not know)."""
    out = subprocess.run([str(SAASCTL), "rate-limits"], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.dumps({name: 1_000_000 for name in json.loads(out.stdout)})


def high_form_limits() -> str:
    """`FORM_LIMITS_JSON` (the implementation request's own limits) out of reach, resends as default."""
    return json.dumps({"per_email_per_hour": 1_000_000, "per_ip_per_hour": 1_000_000})


def key(name: str, **values) -> dict:
    """The `{"PK": ..., "SK": ...}` key of one item, e.g. `key("account", id=aid)`."""
    pk, sk = key_templates()[name]
    return {"PK": {"S": pk.format(**values)}, "SK": {"S": sk.format(**values)}}


def due_shards(ids: list[str]) -> list[str]:
    """Each id's due-index partition (`DuePK`), by the Rust shard rule: one `saasctl shard-of`
    process for all of them, with DUE_SHARDS from the environment as the functions have it."""
    out = subprocess.run([str(SAASCTL), "shard-of"], cwd=ROOT, check=True, capture_output=True, text=True,
                         input="".join(f"{i}\n" for i in ids)).stdout.split()
    if len(out) != len(ids):
        raise RuntimeError(f"saasctl shard-of gave {len(out)} shards for {len(ids)} ids")
    due_pk = key_templates()["due"][0]  # e.g. `DUE#{shard}` or `DUE#{shard:03}`: a number's format
    return [due_pk.format(shard=int(s)) for s in out]


# ---------------------------------------------------------------- the stack

class Stack:
    """`infra/stack.py up` in a session of its own, and `down` for what that session started."""

    def __enter__(self) -> "Stack":
        # This run's session: `down` at the end stops only what this `up` started.
        os.environ["STACK_SESSION"] = str(ROOT / ".stack" / f"bench-{os.getpid()}.session")
        (ROOT / ".stack").mkdir(exist_ok=True)
        subprocess.run([PY, str(ROOT / "infra" / "stack.py"), "up"], check=True, cwd=ROOT, stdout=sys.stderr)
        bootstrap("verify-sender")
        bootstrap("event-bus")  # the sweep publishes account events (moto's EventBridge)
        bootstrap("seed-secrets")  # the functions read their keys from moto's Secrets Manager
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run([PY, str(ROOT / "infra" / "stack.py"), "down"], cwd=ROOT, stdout=sys.stderr)


@contextlib.contextmanager
def table(prefix: str, seed: bool = False):
    name = f"bench-{prefix}-{RUN_ID}"
    bootstrap("create-table", "--table", name)
    if seed:
        bootstrap("seed", "--table", name)
    try:
        yield name
    finally:
        try:
            bootstrap("drop-table", "--table", name)
        except subprocess.CalledProcessError:
            log(f"could not drop table {name}")


# ---------------------------------------------------------------- events

def http_event(when: datetime, method: str, path: str, body: str | None, headers: dict | None = None) -> dict:
    hdrs = {"content-type": "application/json", "user-agent": "bench/1.0"}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": hdrs, "isBase64Encoded": False, "body": body,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.local",
            "domainPrefix": "bench", "requestId": uuid.uuid4().hex, "routeKey": "$default",
            "stage": "$default", "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(when.timestamp() * 1000),
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "198.51.100.77", "userAgent": hdrs["user-agent"]},
        },
    }


def schedule_event(when: datetime) -> dict:
    return {"version": "0", "id": uuid.uuid4().hex, "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012",
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"], "detail": {}}


def signed_webhook(when: datetime, event: dict) -> tuple[str, dict]:
    """Stripe's webhook delivery of `event` at a chosen event time: the raw body and its
    `Stripe-Signature` (`t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">`), as tests/conftest.py `sign`."""
    raw = json.dumps(event)
    t = int(when.timestamp())
    sig = hmac.new(os.environ["STRIPE_WEBHOOK_SECRET"].encode(), f"{t}.{raw}".encode(), hashlib.sha256).hexdigest()
    return raw, {"stripe-signature": f"t={t},v1={sig}"}


# ---------------------------------------------------------------- the customer's side (not counted)
# The browser's and Stripe's parts of a payment, as tests/conftest.py plays them (`stripe`,
# `new_card`, `stripe_events`, `link_token`): straight to localstripe and the SES emulator.

def _form(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in data.items():
        name = f"{prefix}[{k}]" if prefix else k
        out += _form(v, name) if isinstance(v, dict) else [(name, str(v))]
    return out


def stripe(method: str, path: str, **data) -> dict:
    """A call to localstripe's REST API, as Stripe.js or the dashboard would make it."""
    query = urllib.parse.urlencode(_form(data))
    url = f"{STRIPE_DIRECT}{path}" + (f"?{query}" if method == "GET" and query else "")
    body = query.encode() if method != "GET" else None
    req = urllib.request.Request(url, data=body, method=method, headers={"Authorization": f"Bearer {STRIPE_KEY}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"localstripe {method} {path}: {e.code} {e.read()[:300]!r}") from None


def new_card(number: str = CARD_OK) -> str:
    """A card PaymentMethod, as the card element creates it in the browser."""
    return stripe("POST", "/v1/payment_methods", type="card",
                  card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})["id"]


def stripe_event(payment_intent: str, kind: str = "payment_intent.succeeded") -> dict:
    """localstripe's one event of `kind` about a PaymentIntent (it lists them oldest first)."""
    found, after = [], None
    while True:
        page = stripe("GET", "/v1/events", limit=100, type=kind, **({"starting_after": after} if after else {}))
        found += [e for e in page["data"] if e["data"]["object"].get("id") == payment_intent]
        if not page.get("has_more") or not page["data"]:
            break
        after = page["data"][-1]["id"]
    if len(found) != 1:
        raise RuntimeError(f"{kind} for {payment_intent}: {len(found)} events at localstripe")
    return found[0]


def link_token(email: str, kind: str = "verify") -> str:
    """The token of the newest `/app/<kind>?token=` link mailed to `email`, from the SES emulator."""
    with urllib.request.urlopen(f"http://127.0.0.1:{os.environ['SES_PORT']}/moto-api/data.json", timeout=30) as r:
        msgs = json.load(r).get("ses", {}).get("Message", [])
    for m in reversed(msgs):
        if email in m.get("destinations", {}).get("ToAddresses", []):
            found = re.search(rf"/app/{kind}\?token=([0-9a-f]+)", m.get("body", ""))
            if found:
                return found.group(1)
    raise RuntimeError(f"no {kind} link was mailed to {email}")


# ---------------------------------------------------------------- 1. cold starts

def cold_starts(bins: dict[str, Path], env: dict[str, str]) -> dict[str, dict]:
    out = {}
    for f in FUNCTIONS:
        with FunctionProcess(bins[f], f, env) as fp:  # not counted: loads the binary into the page cache
            fp.ready()
        times = []
        for _ in range(STARTS):
            with FunctionProcess(bins[f], f, env) as fp:
                times.append(fp.ready() * 1000)
        times.sort()
        out[f] = {"median": statistics.median(times), "p90": times[max(0, int(round(0.9 * len(times))) - 1)],
                  "min": times[0], "max": times[-1], "n": len(times)}
        log(f"cold start {f}: median {out[f]['median']:.1f} ms, p90 {out[f]['p90']:.1f} ms over {len(times)}")
    return out


# ---------------------------------------------------------------- 2. requests per operation

def logged_requests(logs: list[str], field: str = "ddb_requests") -> int | None:
    """The count a function logs on its request line (`ddb_requests=`, `stripe_requests=`)."""
    for line in logs:
        if f"{field}=" in line:
            return int(line.split(f"{field}=", 1)[1].split()[0].strip(",}\""))
    return None


# Every operation measured, in the order of a customer's first hour, and the function serving it.
OPS = {
    "signup": "signup",
    "verify": "signup",
    "sign-in": "accounts",
    "save card: setup": "renewal",
    "save card: confirm": "renewal",
    "checkout": "renewal",
    "payment webhook": "renewal",
    "account page": "portal",
    "implementation request": "submit-form",
    "copyright notice": "submit-form",
    "data request": "submit-form",
}
ROUTES = {
    "signup": "POST /signup",
    "verify": "POST /signup/verify",
    "sign-in": "POST /sign-in",
    "save card: setup": "POST /accounts/{id}/payment-method",
    "save card: confirm": "POST /accounts/{id}/payment-method/confirm",
    "checkout": "POST /accounts/{id}/checkout",
    "payment webhook": "POST /billing/webhook (payment_intent.succeeded)",
    "account page": "GET /app/account (session cookie; HTML with the forecast timeline)",
    "implementation request": "POST /forms/implementation-request",
    "copyright notice": "POST /forms/copyright-notice",
    "data request": "POST /forms/data-request",
}


def measure_ops(bins: dict[str, Path], proxy: DynamoProxy) -> tuple[dict, dict, dict]:
    """REPS customers, each through its first hour: signs up, opens the verification link, signs
    in, saves a card (SetupIntent confirmed at localstripe with 4242…), checks out a month of
    Standard and has Stripe's `payment_intent.succeeded` delivered (signed, at the event time);
    then an implementation request, a copyright notice about its portal and a data request about
    its account. Returns per-operation results, peak RSS per function, and one verified account's
    META item (before any card or payment), the template of the sweep tables."""
    ops: dict[str, list[dict]] = {k: [] for k in OPS}
    peak: dict[str, int | None] = {}
    template = None
    base_domain = os.environ.get("BASE_DOMAIN", "saas.local")
    with table("ops", seed=True) as name, contextlib.ExitStack() as es:
        env = fn_env(name, proxy)
        fns = {f: es.enter_context(FunctionProcess(bins[f], f, env))
               for f in ("signup", "accounts", "renewal", "submit-form", "portal")}
        for fp in fns.values():
            fp.ready()

        def run(op: str, event: dict, want: int) -> dict:
            mark, ses_mark = proxy.mark(), SES_PROXY.mark() if SES_PROXY else 0
            stripe_mark = STRIPE_PROXY.mark() if STRIPE_PROXY else 0
            inv = fns[OPS[op]].invoke(event, timeout=120, wait_log="ddb_requests=")
            if inv.error or not isinstance(inv.payload, dict) or inv.payload.get("statusCode") != want:
                raise RuntimeError(f"{op}: expected {want}, got {inv.payload}\n" + "\n".join(inv.logs[-10:]))
            wire = summarize(proxy.since(mark))
            stripe_wire = summarize(STRIPE_PROXY.since(stripe_mark)) if STRIPE_PROXY else None
            raw = inv.payload.get("body") or ""
            rec = {"logged": logged_requests(inv.logs), "ms": inv.seconds * 1000, **wire, "bytes": len(raw.encode()),
                   "ses_calls": len(SES_PROXY.since(ses_mark)) if SES_PROXY else None,
                   "stripe_logged": logged_requests(inv.logs, "stripe_requests"), "stripe": stripe_wire}
            ops[op].append(rec)
            if "json" not in str(inv.payload.get("headers", {}).get("content-type", "json")):
                return {"html": raw}
            return json.loads(raw or "null")

        def at(t: datetime, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> dict:
            return http_event(t, method, path, json.dumps(body) if body is not None else None, headers)

        for i in range(REPS):
            t = T0 + timedelta(hours=i)
            domain, email = f"bench-{RUN_ID}-{i}", f"admin-{RUN_ID}-{i}@bench.example.com"
            body = {"company": "Bench Ltd", "domain": domain, "first_name": "Ada", "last_name": "Lovelace",
                    "email": email, "password": "correct horse battery", "country": "DE",
                    "accept_terms": True, "terms_version": os.environ.get("TERMS_VERSION", "2021-11-01"),
                    "legal_age": True}
            acct = run("signup", at(t, "POST", "/signup", body), 201)["account_id"]
            verified = run("verify", at(t, "POST", "/signup/verify", {"token": link_token(email)}), 200)
            if not verified.get("verified"):
                raise RuntimeError(f"verify: the address is not verified: {verified}")
            if template is None:
                template = ddb().get_item(TableName=name, ConsistentRead=True,
                                          Key=key("account", id=acct))["Item"]
            t1 = t + timedelta(minutes=1)
            token = run("sign-in", at(t1, "POST", "/sign-in",
                                      {"domain": domain, "email": email, "password": "correct horse battery"}),
                        200)["token"]
            auth = {"authorization": f"Bearer {token}"}
            t2 = t + timedelta(minutes=2)
            si = run("save card: setup", at(t2, "POST", f"/accounts/{acct}/payment-method", None, auth),
                     201)["setup_intent"]
            stripe("POST", f"/v1/setup_intents/{si}/confirm", payment_method=new_card())  # Stripe.js
            run("save card: confirm", at(t2, "POST", f"/accounts/{acct}/payment-method/confirm",
                                         {"setup_intent": si}, auth), 200)
            t3 = t + timedelta(minutes=3)
            pi = run("checkout", at(t3, "POST", f"/accounts/{acct}/checkout", {"plan": "standard", "months": 1},
                                    auth), 201)["payment_intent"]
            raw, hdrs = signed_webhook(t3, stripe_event(pi))
            paid = run("payment webhook", http_event(t3, "POST", "/billing/webhook", raw, hdrs), 200)
            if paid.get("status") != "applied":
                raise RuntimeError(f"payment webhook: not applied: {paid}")
            page = run("account page", at(t3, "GET", "/app/account", None, {"cookie": f"session={token}"}), 200)
            if "<svg" not in page.get("html", "") or "Renew" not in page["html"]:
                raise RuntimeError("account page: no forecast timeline with the renewal")
            t4 = t + timedelta(minutes=4)
            form = {"first_name": "Ada", "last_name": "Lovelace", "email": f"lead-{RUN_ID}-{i}@bench.example.com",
                    "phone": "+1 555 010 2030", "country": "US", "region": "Boston, MA", "product": "cloud",
                    "request": "A CRM for 40 people", "privacy": "I accept"}
            run("implementation request", at(t4, "POST", "/forms/implementation-request", form), 201)
            notice = {"signature": "/Jane Roe/", "work": "Photograph 'Sunrise'",
                      "location": f"https://{domain}.{base_domain}/photos/1",
                      "contact_address": "1 Main St, Springfield", "contact_phone": "+1 555 010 9999",
                      "contact_email": f"rights-{RUN_ID}-{i}@bench.example.com", "good_faith": True,
                      "perjury": True}
            noticed = run("copyright notice", at(t4, "POST", "/forms/copyright-notice", notice), 201)
            if noticed.get("account") != domain:
                raise RuntimeError(f"copyright notice: not matched to the account: {noticed}")
            request = {"name": "Sam Doe", "email": f"person-{RUN_ID}-{i}@bench.example.com", "domain": domain,
                       "kind": "removal", "details": "Please remove my contact card."}
            run("data request", at(t4, "POST", "/forms/data-request", request), 201)
            log(f"operations: round {i + 1}/{REPS} done")
        for f, fp in fns.items():
            peak[f] = fp.peak_rss_kib()
    return ops, peak, template


# ---------------------------------------------------------------- 3. the sweep at scale

def clone(template: dict, account_id: str, n: int, due_pk: str, due_at: int) -> dict:
    """The signed-up account's META item with a new id, domain, administrator and due time: the
    same serde_dynamo shape the functions write. `due_pk` is the account's due-index partition
    (`due_shards`)."""
    item = dict(template)
    domain, email = f"sweep-{n}", f"admin-{n}@sweep.example.com"
    item.update(key("account", id=account_id))
    item["id"] = {"S": account_id}
    item["domain"] = {"S": domain}
    item["admins"] = {"L": [{"S": email}]}
    item["DuePK"] = {"S": due_pk}
    item["DueAt"] = {"N": str(due_at)}
    return item


def load(name: str, items_iter, total: int) -> float:
    client = ddb()
    t = time.monotonic()

    def write(batch: list[dict]) -> None:
        req = {name: [{"PutRequest": {"Item": it}} for it in batch]}
        delay = 0.05
        while req:
            req = client.batch_write_item(RequestItems=req).get("UnprocessedItems") or {}
            if req:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def batches():
        batch = []
        for it in items_iter:
            batch.append(it)
            if len(batch) == 25:
                yield batch
                batch = []
        if batch:
            yield batch

    done = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in pool.map(write, batches()):
            done += 25
            if done % 20000 == 0:
                log(f"  loaded {done}/{total}")
    return time.monotonic() - t


def run_sweep(bin_path: Path, proxy: DynamoProxy, name: str, when: datetime) -> dict:
    """One scheduled event to a fresh sweep process; its summary, the wire view, time and peak RSS."""
    env = fn_env(name, proxy)
    with FunctionProcess(bin_path, "lifecycle-sweep", env) as fp:
        fp.ready()
        mark, ses_mark = proxy.mark(), SES_PROXY.mark() if SES_PROXY else 0
        inv = fp.invoke(schedule_event(when), timeout=900, wait_log="sweep done")
        wire = summarize(proxy.since(mark))
        wire["ses"] = summarize(SES_PROXY.since(ses_mark)) if SES_PROXY else None
        rss = fp.peak_rss_kib()
    if inv.error or not isinstance(inv.payload, dict):
        raise RuntimeError(f"sweep failed: {inv.payload}\n" + "\n".join(inv.logs[-10:]))
    return {"summary": inv.payload, "wire": wire, "seconds": inv.seconds, "rss": rss}


def sweep_moments(template: dict) -> tuple[int, datetime, datetime]:
    """The due time of the template's clones, the first sweep's moment (the Terms rollout, before
    anything is due) and the measured sweep's (when exactly the due set is due)."""
    due_at = int(template["DueAt"]["N"])
    created = datetime.fromisoformat(template["created_at"]["S"].replace("Z", "+00:00"))
    rollout_at = created + timedelta(days=1)
    # A Free account with no activity for 30 days is archived (§21.1): one transition and one
    # notice per due account (the inactivity warning of day 23 is past its moment, so skipped).
    when = created + timedelta(days=30, hours=1)
    if not (rollout_at.timestamp() < due_at <= when.timestamp()):
        raise RuntimeError(f"unexpected DueAt {due_at} for an account created {created}")
    return due_at, rollout_at, when


def load_accounts(name: str, template: dict, size: int, due_at: int) -> float:
    """`size` clones of the template into the table: the same DUE ids due in every table, the rest
    idle (DueAt in 2100). Seconds taken."""
    due_ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"bench-due-{k}").hex for k in range(DUE)]
    ids = due_ids + [uuid.uuid5(uuid.NAMESPACE_URL, f"bench-idle-{k}").hex for k in range(DUE, size)]
    due_pks = due_shards(ids)

    def items():
        for k, (aid, due_pk) in enumerate(zip(ids, due_pks)):
            yield clone(template, aid, k, due_pk, due_at if k < len(due_ids) else FAR_FUTURE)
    log(f"loading {size} accounts ({DUE} due) into {name}")
    return load(name, items(), size)


def check_handled(label: str, s: dict) -> None:
    if s.get("due") != DUE or s.get("transitions") != DUE or not s.get("complete", True):
        log(f"{label}: WARNING: expected {DUE} due accounts archived in one complete run, got "
            f"due {s.get('due')}, transitions {s.get('transitions')}, complete {s.get('complete')}")


def sweep_at_scale(bins: dict[str, Path], proxy: DynamoProxy, template: dict) -> list[dict]:
    """Per size: a fresh table with the same DUE accounts due and the rest idle (DueAt in 2100).
    A first sweep, before anything is due, runs the one-time Terms rollout (§1.4: it pages through
    the whole index once per Terms version, then leaves a done marker); the measured sweep follows,
    at a moment when exactly the due set is due. Each sweep is one schedule sent straight to one
    `lifecycle-sweep` process, which then sweeps every shard (as the tests do)."""
    due_at, rollout_at, when = sweep_moments(template)
    rows = []
    for size in SIZES:
        with table(f"sweep{size}") as name:
            load_s = load_accounts(name, template, size, due_at)
            log(f"sweep {size}: loaded in {load_s:.1f}s; first sweep (Terms rollout) at {rollout_at:%Y-%m-%dT%H:%MZ}")
            first = run_sweep(bins["lifecycle-sweep"], proxy, name, rollout_at)
            f = first["summary"]
            log(f"sweep {size}: rollout read {f.get('items_read')} items in {f.get('ddb_requests')} requests, "
                f"{first['seconds']:.1f}s; measured sweep at {when:%Y-%m-%dT%H:%MZ}")
            r = run_sweep(bins["lifecycle-sweep"], proxy, name, when)
            s = r["summary"]
            rows.append({"size": size, "load_s": load_s, "rollout": first, **r})
            log(f"sweep {size}: due {s.get('due')}, items read {s.get('items_read')}, "
                f"requests {s.get('ddb_requests')} (wire {r['wire']['requests']}), {r['seconds']:.2f}s")
            check_handled(f"sweep {size}", s)
    return rows


def run_dispatch(bins: dict[str, Path], proxy: DynamoProxy, name: str, when: datetime, workers: int) -> dict:
    """One schedule to a fresh dispatcher process, which invokes `workers` fresh sweep worker
    processes through a stub of the Lambda Invoke API (`invoke_stub.py`) and waits for their answers
    (`SWEEP_INVOCATION=RequestResponse`, as locally). The dispatcher's summary, the workers'
    summaries summed, the wire view, time and peak RSS of each side."""
    env = fn_env(name, proxy)
    with InvokeStub(bins["lifecycle-sweep"], "lifecycle-sweep", env, workers) as lam:
        denv = dict(env, AWS_ENDPOINT_URL_LAMBDA=lam.url, SWEEP_WORKERS=str(workers),
                    SWEEP_WORKER_FUNCTION="lifecycle-sweep", SWEEP_INVOCATION="RequestResponse")
        with FunctionProcess(bins[DISPATCHER], DISPATCHER, denv) as fp:
            fp.ready()
            mark, ses_mark = proxy.mark(), SES_PROXY.mark() if SES_PROXY else 0
            inv = fp.invoke(schedule_event(when), timeout=900, wait_log="sweep dispatched")
            lam.wait()
            wire = summarize(proxy.since(mark))
            wire["ses"] = summarize(SES_PROXY.since(ses_mark)) if SES_PROXY else None
            rss = fp.peak_rss_kib()
        worker_rss = lam.peak_rss_kib()
        answers = [i.payload for i in lam.invocations if isinstance(i.payload, dict) and not i.error]
        worker_errors = lam.errors + [str(i.payload)[:200] for i in lam.invocations if i.error]
    if inv.error or not isinstance(inv.payload, dict):
        raise RuntimeError(f"dispatcher failed: {inv.payload}\n" + "\n".join(inv.logs[-10:]))
    keys = ("due", "transitions", "notices_sent", "items_read", "ddb_requests", "shard_queries", "lost_races",
            "terms_notices")
    workers_sum = {k: sum(a.get(k) or 0 for a in answers) for k in keys}
    workers_sum["complete"] = bool(answers) and all(a.get("complete", True) for a in answers)
    workers_sum["answers"] = len(answers)
    workers_sum["worker_seconds"] = sorted(i.seconds for i in lam.invocations)
    return {"summary": inv.payload, "workers": workers_sum, "worker_errors": worker_errors, "wire": wire,
            "seconds": inv.seconds, "rss": rss, "worker_rss": worker_rss}


def dispatched_sweep(bins: dict[str, Path], proxy: DynamoProxy, template: dict) -> dict | None:
    """The deployed path, once, at the smallest size: the schedule to `sweep-dispatcher`, which
    fans out to SWEEP_WORKERS sweep workers (the template's default is 8). Skipped when the
    workspace has no dispatcher; a failure is reported in the table, not fatal."""
    if DISPATCHER not in bins or not SIZES:
        return None
    size = min(SIZES)
    due_at, rollout_at, when = sweep_moments(template)
    try:
        with table(f"dispatch{size}") as name:
            load_s = load_accounts(name, template, size, due_at)
            log(f"dispatched sweep {size}: loaded in {load_s:.1f}s; first dispatch (Terms rollout), "
                f"{SWEEP_WORKERS} workers")
            first = run_dispatch(bins, proxy, name, rollout_at, SWEEP_WORKERS)
            log(f"dispatched sweep {size}: rollout {first['workers']['ddb_requests']} requests over "
                f"{first['workers']['answers']} workers, {first['seconds']:.1f}s; measured dispatch")
            r = run_dispatch(bins, proxy, name, when, SWEEP_WORKERS)
            w = r["workers"]
            log(f"dispatched sweep {size}: due {w['due']}, items read {w['items_read']}, requests "
                f"{w['ddb_requests']} (wire {r['wire']['requests']}), {r['seconds']:.2f}s")
            check_handled(f"dispatched sweep {size}", w)
            return {"size": size, "workers_n": SWEEP_WORKERS, "rollout": first, **r}
    except Exception as e:  # noqa: BLE001 - reported in the table
        log(f"dispatched sweep failed: {e}")
        return {"size": size, "workers_n": SWEEP_WORKERS, "error": str(e).splitlines()[0][:300]}


# ---------------------------------------------------------------- 4. the backlog (month end)

def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, TypeError):
        return 0.0


def dynamodb_local_pid() -> int | None:
    """The DynamoDB Local JVM (the shared ceiling of the backlog rows)."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if b"DynamoDBLocal" in (d / "cmdline").read_bytes():
                    return int(d.name)
    return None


def run_backlog(bins: dict[str, Path], name: str, when: datetime, workers: int, in_flight: int) -> dict:
    """One schedule through the dispatcher to `workers` worker processes, each `in_flight` due items
    at once, straight to DynamoDB Local and moto (no counting proxy: the proxies are Python and would
    be the ceiling; requests come from the workers' own count). Each worker gets BACKLOG_SECONDS
    before its deadline reserve, as if its Lambda timeout were that short, so a slow configuration
    is measured over that time rather than waited out."""
    env = {"TABLE_NAME": name, "LOCAL_REPLAY": "1", "SWEEP_IN_FLIGHT": str(in_flight),
           "AWS_ENDPOINT_URL_DYNAMODB": os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
           "AWS_ENDPOINT_URL_SES": os.environ["AWS_ENDPOINT_URL_SES"]}
    budget = BACKLOG_SECONDS + 10  # the worker keeps a 10 s reserve before its deadline
    # A worker that overruns its deadline is reported as such (its answer's time), not cut off.
    with InvokeStub(bins["lifecycle-sweep"], "lifecycle-sweep", env, workers, timeout=budget,
                    answer_slack=120) as lam:
        denv = dict(env, AWS_ENDPOINT_URL_LAMBDA=lam.url, SWEEP_WORKERS=str(workers),
                    SWEEP_WORKER_FUNCTION="lifecycle-sweep", SWEEP_INVOCATION="RequestResponse")
        with FunctionProcess(bins[DISPATCHER], DISPATCHER, denv) as fp:
            fp.ready()
            ddb_pid = dynamodb_local_pid()
            ddb_cpu = cpu_seconds(ddb_pid)
            inv = fp.invoke(schedule_event(when), timeout=budget + 120, wait_log="sweep dispatched")
            lam.wait()
            ddb_cpu = cpu_seconds(ddb_pid) - ddb_cpu
            worker_cpu = sum(cpu_seconds(w.proc.pid if w.proc else None) for w in lam.procs)
        answers = [i.payload for i in lam.invocations if isinstance(i.payload, dict) and not i.error]
    if inv.error or len(answers) != workers:
        why = "; ".join(lam.errors + [str(i.payload)[:160] for i in lam.invocations if i.error])
        raise RuntimeError(f"{len(answers)}/{workers} workers answered; the others: {why[:300]}")
    total = {k: sum(a.get(k) or 0 for a in answers)
             for k in ("due", "transitions", "notices_sent", "ddb_requests", "shard_queries", "lost_races",
                       "events_published", "items_read")}
    # A lane's time is the slowest worker's: the workers run side by side.
    lanes: dict[str, float] = {}
    for a in answers:
        for lane, ms in (a.get("lane_ms") or {}).items():
            lanes[lane] = max(lanes.get(lane, 0), ms / 1000)
    return {"workers": workers, "in_flight": in_flight, "seconds": inv.seconds, "lanes": lanes,
            "ddb_cpu": ddb_cpu, "worker_cpu": worker_cpu,
            "complete": all(a.get("complete") for a in answers), **total}


def backlog(bins: dict[str, Path], template: dict) -> list[dict]:
    """Month end: a table whose every account is due at once (`BACKLOG` sizes), drained by the
    dispatcher's workers. The first size runs every worker count × in-flight setting; the larger
    ones the two fastest settings. Each run has a fresh table and its own accounts, so nothing
    left by one run is due in the next. Failures are rows, not the end of the bench."""
    if DISPATCHER not in bins or not BACKLOG:
        return []
    due_at, _, when = sweep_moments(template)
    plan = [(BACKLOG[0], w, f) for w in BACKLOG_WORKERS for f in BACKLOG_IN_FLIGHT]
    plan += [(n, w, f) for n in BACKLOG[1:] for w, f in ((4, 32), (8, 32))]
    rows = []
    for n, w, f in plan:
        label = f"backlog {n:,} due, {w} workers × {f} in flight"
        try:
            with table(f"backlog{n}w{w}f{f}") as name:
                ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"bench-backlog-{RUN_ID}-{n}-{w}-{f}-{k}").hex for k in range(n)]
                pks = due_shards(ids)
                load_s = load(name, (clone(template, aid, k, pk, due_at) for k, (aid, pk) in enumerate(zip(ids, pks))), n)
                r = run_backlog(bins, name, when, w, f)
            due_s = r["lanes"].get("due") or r["seconds"]
            r.update(size=n, load_s=load_s, rate=r["transitions"] / due_s if due_s else 0)
            log(f"{label}: {r['transitions']} transitions, {r['rate']:.0f}/s in the due lane, "
                f"{r['ddb_requests']} requests, lanes {r['lanes']}, {r['seconds']:.1f}s end to end")
        except Exception as e:  # noqa: BLE001 - reported in the table
            log(f"{label}: failed: {e}")
            r = {"size": n, "workers": w, "in_flight": f, "error": str(e).splitlines()[0][:200]}
        rows.append(r)
    return rows


# ---------------------------------------------------------------- the table

def mib(kib: int | None) -> str:
    return f"{kib / 1024:.1f} MiB" if kib else "n/a"


def values(xs: list) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "not logged"
    lo, hi = min(xs), max(xs)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def ses_text(ses: dict | None) -> str:
    if not ses or not ses["requests"]:
        return ""
    return f", SES emulator {ses['seconds']:.2f} s ({ses['requests']} calls)"


def ops_text(by_op: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in by_op.items())


def seconds(s: float | None) -> str:
    return "not run (BENCH_SKIP_BUILD)" if s is None else f"{s:.0f} s ({s / 60:.1f} min)"


def render(arch, profile, zips, times, cold, ops, peaks, sweeps, dispatched, meta) -> str:
    L = []
    L.append(f"Bench of {meta['commit']} on {meta['cpu']} ({meta['cores']} cores, load average "
             f"{meta['load']} at the start), {meta['date']}; local stack (DynamoDB Local, moto SES, localstripe); "
             f"host release build for the measurements {seconds(times['host'])}.")
    L.append("")
    L.append("| measure | function / case | result | detail |")
    L.append("|---|---|---|---|")
    for f in FUNCTIONS:
        c = cold[f]
        L.append(f"| cold start, spawn → first `next` (median / p90) | {f} | {c['median']:.1f} / {c['p90']:.1f} ms "
                 f"| {c['n']} starts, min {c['min']:.1f}, max {c['max']:.1f} ms; {meta['bins']} |")
    for op, recs in ops.items():
        first = recs[0]
        steady = "same every run" if all(r["by_op"] == first["by_op"] for r in recs) else "varies"
        warm = statistics.median(r["ms"] for r in recs[1:]) if len(recs) > 1 else first["ms"]
        stripe_calls = values([r["stripe"]["requests"] if r["stripe"] else None for r in recs])
        L.append(f"| DynamoDB requests per operation (function log / wire) | {op} | "
                 f"{values([r['logged'] for r in recs])} / {values([r['requests'] for r in recs])} | "
                 f"`{ROUTES[op]}` ({OPS[op]}): {ops_text(first['by_op'])} ({steady}, {len(recs)} runs); "
                 f"{first['rcu']:g} RCU + {first['wcu']:g} WCU; SES calls {values([r['ses_calls'] for r in recs])}; "
                 f"Stripe calls {stripe_calls}; warm latency median {warm:.0f} ms"
                 + (f"; page {first['bytes'] / 1024:.1f} KiB" if op == "account page" else "") + " |")
    if "save card: setup" in ops and "save card: confirm" in ops:
        both = list(zip(ops["save card: setup"], ops["save card: confirm"]))
        L.append(f"| DynamoDB requests per operation (function log / wire) | save card (setup + confirm) | "
                 f"{values([a['logged'] + b['logged'] if None not in (a['logged'], b['logged']) else None for a, b in both])}"
                 f" / {values([a['requests'] + b['requests'] for a, b in both])} | the two rows above together |")
    for op, recs in ops.items():
        if not any(r["stripe"] and r["stripe"]["requests"] or r["stripe_logged"] for r in recs):
            continue
        first = recs[0]["stripe"]
        steady = ("same every run" if all(r["stripe"]["by_op"] == first["by_op"] for r in recs) else "varies")
        L.append(f"| Stripe requests per operation (function log / wire) | {op} | "
                 f"{values([r['stripe_logged'] for r in recs])} / {values([r['stripe']['requests'] for r in recs])} | "
                 f"{ops_text(first['by_op'])} ({steady}, {len(recs)} runs); "
                 f"localstripe round trips median {statistics.median(r['stripe']['seconds'] for r in recs) * 1000:.0f} ms |")
    if "save card: setup" in ops and "save card: confirm" in ops:
        both = list(zip(ops["save card: setup"], ops["save card: confirm"]))
        L.append(f"| Stripe requests per operation (function log / wire) | save card (setup + confirm) | "
                 f"{values([(a['stripe_logged'] or 0) + (b['stripe_logged'] or 0) for a, b in both])} / "
                 f"{values([a['stripe']['requests'] + b['stripe']['requests'] for a, b in both])} | "
                 f"the two rows above together |")
    same = len({(r["summary"].get("ddb_requests"), r["summary"].get("items_read")) for r in sweeps}) == 1
    handled = all(r["summary"].get("due") == DUE and r["summary"].get("transitions") == DUE
                  and r["summary"].get("complete", True) for r in sweeps)
    for r in sweeps:
        s, w = r["summary"], r["wire"]
        tput = s.get("due", 0) / r["seconds"] if r["seconds"] else 0
        L.append(f"| sweep at {r['size']:,} accounts, {DUE} due | lifecycle-sweep | "
                 f"**{s.get('ddb_requests')} requests, {s.get('items_read')} items read**; "
                 f"{tput:.1f} due accounts/s | "
                 f"wire {w['requests']} ({ops_text(w['by_op'])}), {w['rcu']:g} RCU + {w['wcu']:g} WCU; "
                 f"due {s.get('due')}, transitions {s.get('transitions')}, notices sent {s.get('notices_sent')}"
                 + (f", shard queries {s['shard_queries']}" if "shard_queries" in s else "")
                 + (f", shards {s['shards']}" if "shards" in s else "") + "; "
                 f"{r['seconds']:.2f} s; DynamoDB round trips {w['seconds']:.2f} s summed (some run side by side)"
                 f"{ses_text(w.get('ses'))}; "
                 f"peak {mib(r['rss'])} |")
    if sweeps:
        sizes = ", ".join(f"{r['size']:,}" for r in sweeps)
        L.append(f"| sweep: same requests and items read at every size? | lifecycle-sweep | "
                 f"{'yes' if same else 'NO'} | sizes {sizes} |")
        L.append(f"| sweep: every due account handled, in one complete run? | lifecycle-sweep | "
                 f"{'yes' if handled else 'NO'} | {DUE} due, {DUE} archive transitions expected at every size |")
    if dispatched and "error" in dispatched:
        L.append(f"| sweep through the dispatcher, {dispatched['workers_n']} workers, at {dispatched['size']:,} "
                 f"accounts, {DUE} due | sweep-dispatcher → lifecycle-sweep | failed | {dispatched['error']} |")
    elif dispatched:
        d, w, wire = dispatched["summary"], dispatched["workers"], dispatched["wire"]
        tput = w["due"] / dispatched["seconds"] if dispatched["seconds"] else 0
        secs = w["worker_seconds"]
        errs = f"; worker errors: {'; '.join(dispatched['worker_errors'])[:200]}" if dispatched["worker_errors"] else ""
        L.append(f"| sweep through the dispatcher, {dispatched['workers_n']} workers, at {dispatched['size']:,} accounts, "
                 f"{DUE} due | sweep-dispatcher → lifecycle-sweep | **{w['ddb_requests']} requests, "
                 f"{w['items_read']} items read** (all workers); {tput:.1f} due accounts/s | "
                 f"dispatcher: invoked {d.get('invoked')}, failed {d.get('failed')}, complete {d.get('complete')}; "
                 f"workers: due {w['due']}, transitions {w['transitions']}, notices sent {w['notices_sent']}, "
                 f"shard queries {w['shard_queries']}, lost races {w['lost_races']}; wire {wire['requests']} "
                 f"({ops_text(wire['by_op'])}); {dispatched['seconds']:.2f} s end to end, workers "
                 f"{secs[0]:.2f}–{secs[-1]:.2f} s each{ses_text(wire.get('ses'))}; peak: dispatcher "
                 f"{mib(dispatched['rss'])}, largest worker {mib(dispatched['worker_rss'])}{errs} |")
        rw, rwire = dispatched["rollout"]["workers"], dispatched["rollout"]["wire"]
        L.append(f"| first dispatch after a Terms version (one-time rollout, nothing due), {dispatched['workers_n']} "
                 f"workers, at {dispatched['size']:,} accounts | sweep-dispatcher → lifecycle-sweep | "
                 f"{rw['ddb_requests']} requests, {rw['items_read']} items read (all workers) | "
                 f"wire {rwire['requests']} ({ops_text(rwire['by_op'])}); {dispatched['rollout']['seconds']:.2f} s |")
    for r in sweeps:
        s, w = r["rollout"]["summary"], r["rollout"]["wire"]
        L.append(f"| first sweep after a Terms version (one-time rollout, nothing due) at {r['size']:,} accounts "
                 f"| lifecycle-sweep | {s.get('ddb_requests')} requests, {s.get('items_read')} items read | "
                 f"wire {w['requests']} ({ops_text(w['by_op'])}); Terms notices {s.get('terms_notices')}; "
                 f"{r['rollout']['seconds']:.2f} s; peak {mib(r['rollout']['rss'])} |")
    for f in FUNCTIONS:
        served = [op for op, fn in OPS.items() if fn == f]
        if f == "lifecycle-sweep":
            how = "largest of the sweep processes, rollouts and dispatched workers included"
        elif f == DISPATCHER:
            how = "largest of its dispatches (rollout and measured), waiting for its workers' answers"
        elif served:
            how = f"one process, over its {REPS * len(served)} requests ({', '.join(served)}; {REPS} each)"
        else:
            how = "not run by the bench"
        L.append(f"| peak memory (VmHWM) | {f} | {mib(peaks.get(f))} | {how} |")
    ship = times["ship"]
    verdict = "" if ship is None else (" (within the goal)" if ship <= SHIP_GOAL_S else " (over the goal)")
    L.append(f"| shipping build, clean target, {arch} | workspace ({len(FUNCTIONS)} functions) | {seconds(ship)}{verdict} | "
             f"goal ≤ {SHIP_GOAL_S // 60} min; before: {BEFORE['ship']}; {profile} |")
    for f in FUNCTIONS:
        z = zips[f]
        mark = "" if not z else (" ✓" if z / 1024 / 1024 <= ZIP_GOAL_MIB else " over")
        L.append(f"| zip size ({arch}) | {f} | " + (f"{z / 1024 / 1024:.2f} MiB{mark} | {z:,} bytes; goal ≤ "
                                                  f"{ZIP_GOAL_MIB:g} MiB; before: {BEFORE['zip']} |"
                                                  if z else "not built | |"))
    L.append("")
    L.append("Cold start: `AWS_LAMBDA_RUNTIME_API` points at a Python stub; t0 just before spawn, t1 when "
             "the stub receives `next`; one unmeasured start first. Requests: function log = its "
             "`ddb_requests=` / `stripe_requests=` line, wire = a counting proxy in front of DynamoDB Local "
             "(`bench/ddb_proxy.py`) or localstripe (`bench/stripe_proxy.py`); capacity units "
             "as DynamoDB Local reports them. Every operation at a chosen event time (2031), every rate "
             "limit raised out of reach, one fresh verified customer per run. Sweep accounts beyond the due set are clones of a signed-up "
             "account's META item with `DueAt` in 2100.")
    return "\n".join(L) + "\n"


def render_backlog(rows: list[dict]) -> str:
    """The month-end table: drain rate per setting, beside the baseline of one worker with one item
    in flight (the sweep before the fan-out), and where each run's time went."""
    if not rows:
        return ""
    base = next((r for r in rows if r.get("workers") == 1 and r.get("in_flight") == 1 and "error" not in r), None)
    L = ["", f"Backlog (month end): every account due at once; each worker has {BACKLOG_SECONDS:g} s of work "
         "before its deadline reserve, so a slow setting is measured over that time. Drain rate = archive "
         "transitions / the due lane's time (the slowest worker's). Functions talk to DynamoDB Local and moto "
         "directly here.", "",
         "| due accounts | workers × in flight | drained / s | vs 1 × 1 | transitions | DynamoDB requests per due account "
         "| where the time went (slowest worker, s) | CPU: DynamoDB Local / workers (s) | end to end |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            L.append(f"| {r['size']:,} | {r['workers']} × {r['in_flight']} | failed | | | | {r['error']} | | |")
            continue
        per = r["ddb_requests"] / r["transitions"] if r["transitions"] else 0
        vs = f"{r['rate'] / base['rate']:.1f}×" if base and base["rate"] else "n/a"
        lanes = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["lanes"].items(), key=lambda kv: -kv[1]) if v >= 0.05)
        L.append(f"| {r['size']:,} | {r['workers']} × {r['in_flight']} | **{r['rate']:.0f}** | {vs} | "
                 f"{r['transitions']:,}{'' if r['complete'] else ' (time ran out)'} | {per:.2f} "
                 f"({r['ddb_requests']:,} incl. {r['shard_queries']:,} shard queries; notices sent {r['notices_sent']:,}, "
                 f"events {r['events_published']:,}, lost races {r['lost_races']}) | {lanes} | "
                 f"{r.get('ddb_cpu', 0):.1f} / {r.get('worker_cpu', 0):.1f} | {r['seconds']:.1f} s |")
    return "\n".join(L) + "\n"


def machine() -> dict:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "load": LOAD_AT_START, "commit": commit + ("+dirty" if dirty else ""),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def main() -> int:
    arch, bins, zips, times, profile = build()
    with Stack(), DynamoProxy(int(os.environ["DYNAMODB_PORT"])) as proxy, \
            DynamoProxy(int(os.environ["SES_PORT"]), inject_capacity=False) as ses, \
            StripeProxy(int(os.environ["STRIPE_PORT"])) as stripe_proxy:
        global SES_PROXY, STRIPE_PROXY
        SES_PROXY, STRIPE_PROXY = ses, stripe_proxy
        if os.environ.get("BENCH_ONLY") == "backlog":
            # Iterating on the month-end rows: one signed-up account for the template, then them.
            _, _, template = measure_ops(bins, proxy)
            text = render_backlog(backlog(bins, template))
            print(text)
            return 0
        base_env = fn_env(f"bench-cold-{RUN_ID}", proxy)
        log(f"cold starts: {STARTS} per function")
        cold = cold_starts(bins, base_env)
        log(f"operations: {REPS} rounds of {', '.join(OPS)}")
        ops, peaks, template = measure_ops(bins, proxy)
        sweeps = sweep_at_scale(bins, proxy, template)
        dispatched = dispatched_sweep(bins, proxy, template)
        log(f"backlog: {BACKLOG} due, workers {BACKLOG_WORKERS} × in flight {BACKLOG_IN_FLIGHT}")
        backlogs = backlog(bins, template)
        sweep_rss = [x for r in sweeps for x in (r["rss"], r["rollout"]["rss"])]
        if dispatched and "error" not in dispatched:
            sweep_rss += [dispatched["worker_rss"], dispatched["rollout"]["worker_rss"]]
            peaks[DISPATCHER] = max(dispatched["rss"] or 0, dispatched["rollout"]["rss"] or 0) or None
        peaks["lifecycle-sweep"] = max((x or 0 for x in sweep_rss), default=0) or None
    meta = machine()
    meta["bins"] = f"host {host_arch()} `cargo build --release` binary, same profile as the zips"
    text = render(arch, profile, zips, times, cold, ops, peaks, sweeps, dispatched, meta) + render_backlog(backlogs)
    (BENCH / "latest.md").write_text(text)
    print(text)
    log(f"done; table also in {BENCH / 'latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
