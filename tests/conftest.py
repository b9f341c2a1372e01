"""End-to-end fixtures: the local stack, a table of our own, and every function served by
`cargo lambda watch` against it. Requests with a chosen event time go through the same
runtime with API Gateway v2 events, so any moment of an account's life can be replayed."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "infra"))
import localenv  # noqa: E402

localenv.load()
VENV_BIN = ROOT / ".tools" / "venv" / "bin"
PY = str(VENV_BIN / "python")
CARGO_LAMBDA = str(VENV_BIN / "cargo-lambda")


@functools.lru_cache(maxsize=None)
def key_templates() -> dict[str, list[str]]:
    """Every table key as `[PK, SK]` templates with `{placeholders}`, from the Rust rules
    (`saasctl keys`, built on first use): tests never spell a key themselves. Once per session."""
    out = subprocess.run(["cargo", "run", "-q", "--locked", "-p", "saasctl", "--", "keys"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"saasctl keys failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout)


def key(name: str, **values) -> dict:
    """The `{"PK": ..., "SK": ...}` key of one item, e.g. `key("account", id=aid)`."""
    pk, sk = key_templates()[name]
    return {"PK": {"S": pk.format(**values)}, "SK": {"S": sk.format(**values)}}


def key_prefix(name: str, **values) -> tuple[str, str]:
    """A partition and the start of its sort keys, e.g. `key_prefix("history", id=aid)`."""
    pk, sk = key_templates()[name]
    return pk.format(**values), sk.format(**values)


def pk_stem(name: str) -> str:
    """The fixed start of a PK template, before its first placeholder (`DUE#` for "due")."""
    return key_templates()[name][0].split("{", 1)[0]


def due_partition(shard: int) -> str:
    """The due-time index partition (`DuePK`) of one logical shard."""
    return key_prefix("due", shard=shard)[0]


def shard_of(*ids: str) -> list[int]:
    """Each id's logical shard, by the Rust rule (`saasctl shard-of`)."""
    out = subprocess.run(["cargo", "run", "-q", "--locked", "-p", "saasctl", "--", "shard-of"], cwd=ROOT,
                         input="\n".join(ids) + "\n", capture_output=True, text=True, check=True)
    return [int(s) for s in out.stdout.split()]


# Tests share one source IP and a few event hours: per-IP limits are raised, except where a test
# of the limits sets them itself.
@functools.lru_cache(maxsize=None)
def high_limits() -> str:
    """`RATE_LIMITS_JSON` with every public route's limit out of reach (`saasctl rate-limits` names
    them), for tests that are not about limits; the functions refuse a name they do not know."""
    out = subprocess.run(["cargo", "run", "-q", "--locked", "-p", "saasctl", "--", "rate-limits"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"saasctl rate-limits failed ({out.returncode}):\n{out.stderr}")
    return json.dumps({name: 100000 for name in json.loads(out.stdout)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddb():
    return boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])


@pytest.fixture(scope="session")
def stack():
    subprocess.run([PY, str(ROOT / "infra" / "stack.py"), "up"], check=True)
    subprocess.run([PY, str(ROOT / "infra" / "bootstrap.py"), "verify-sender"], check=True)
    subprocess.run([PY, str(ROOT / "infra" / "bootstrap.py"), "event-bus"], check=True)
    subprocess.run([PY, str(ROOT / "infra" / "bootstrap.py"), "seed-secrets"], check=True)


def make_table(prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    for cmd in ("create-table", "seed"):
        subprocess.run([PY, str(ROOT / "infra" / "bootstrap.py"), cmd, "--table", name], check=True,
                       stdout=subprocess.DEVNULL)
    return name


class Lambdas:
    """Every function under one `cargo lambda watch`, bound to one table."""

    def __init__(self, table: str, env_extra: dict | None = None, concurrency: int = 1):
        self.table = table
        self.port = _free_port()
        env = dict(os.environ, TABLE_NAME=table, PATH=f"{VENV_BIN}:{os.environ['PATH']}",
                   AWS_ENDPOINT_URL_LAMBDA=f"http://127.0.0.1:{self.port}",
                   RATE_LIMITS_JSON=high_limits())
        env.update(env_extra or {})
        self.log = open(ROOT / "tests" / "artifacts" / f"watch-{table}-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [CARGO_LAMBDA, "lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", str(self.port),
             "--concurrency", str(concurrency)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}/lambda-url"
        deadline = time.time() + 600
        while True:
            try:
                if requests.get(f"{self.base}/renewal/plans", timeout=120).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"cargo lambda watch did not come up; see {self.log.name}")
            time.sleep(1)

    def stop(self):
        try:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=20)
        except Exception:
            pass
        self.log.close()

    # -- HTTP through the function URL (event time = now) --------------------------------
    def url(self, function: str, path: str) -> str:
        return f"{self.base}/{function}{path}"

    # -- HTTP with a chosen event time (API Gateway v2 event through the runtime) ----------
    def at(self, when: datetime, function: str, method: str, path: str, body=None, headers=None,
           raw: str | None = None, source_ip: str = "198.51.100.7") -> "Reply":
        event = http_event(when, method, path, body, headers, raw, source_ip)
        r = requests.post(f"http://127.0.0.1:{self.port}/2015-03-31/functions/{function}/invocations",
                          json=event, timeout=120)
        r.raise_for_status()
        return Reply(r.json())

    # -- the schedule, through `cargo lambda invoke` ----------------------------------------
    def sweep(self, when: datetime) -> dict:
        event = schedule_event(when)
        out = subprocess.run(
            [CARGO_LAMBDA, "lambda", "invoke", "lifecycle-sweep", "--data-ascii", json.dumps(event),
             "-A", "127.0.0.1", "-P", str(self.port)],
            cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


def http_event(when: datetime, method: str, path: str, body=None, headers=None, raw: str | None = None,
               source_ip: str = "198.51.100.7") -> dict:
    """An API Gateway v2 event at a chosen time (what the HTTP API sends a function)."""
    hdrs = {"content-type": "application/json", "user-agent": "pytest"}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    text = raw if raw is not None else (json.dumps(body) if body is not None else None)
    path_only, _, query = path.partition("?")
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path_only, "rawQueryString": query,
        "headers": hdrs, "isBase64Encoded": False, "body": text,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": uuid.uuid4().hex, "routeKey": "$default",
            "stage": "$default", "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(when.timestamp() * 1000),
            "http": {"method": method, "path": path_only, "protocol": "HTTP/1.1",
                     "sourceIp": source_ip, "userAgent": hdrs["user-agent"]},
        },
    }
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return event


def schedule_event(when: datetime, shards: list[int] | None = None, workers: int = 1) -> dict:
    """An EventBridge scheduled event at a chosen time; with `shards`, a dispatcher's job for one
    worker of `workers`."""
    event = {"version": "0", "id": uuid.uuid4().hex, "detail-type": "Scheduled Event",
             "source": "aws.events", "account": "123456789012",
             "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
             "resources": [], "detail": {}}
    if shards is not None:
        event.update(shards=shards, workers=workers)
    return event


class Reply:
    def __init__(self, r: dict):
        self.status = r.get("statusCode")
        self.headers = {k.lower(): v for k, v in (r.get("headers") or {}).items()}
        self.text = r.get("body") or ""

    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return f"<{self.status} {self.text[:300]}>"


@pytest.fixture(scope="session")
def lambdas(stack):
    (ROOT / "tests" / "artifacts").mkdir(exist_ok=True)
    fns = Lambdas(make_table("e2e"))
    yield fns
    fns.stop()


@pytest.fixture(scope="session")
def api(lambdas) -> str:
    """Base URL of the running functions: `{api}/<function>/<route>`."""
    return lambdas.base


@pytest.fixture(scope="session")
def table(lambdas) -> str:
    return lambdas.table


def ses_messages(to: str | None = None) -> list[dict]:
    """Every mail the SES emulator has accepted, optionally only those to one address."""
    data = requests.get(f"{os.environ['AWS_ENDPOINT_URL_SES']}/moto-api/data.json", timeout=10).json()
    msgs = data.get("ses", {}).get("Message", [])
    if to:
        msgs = [m for m in msgs if to in m.get("destinations", {}).get("ToAddresses", [])]
    return msgs


@pytest.fixture
def mail():
    return ses_messages


def link_token(email: str, kind: str = "verify") -> str:
    """The token of the newest `/app/<kind>?token=` link mailed to `email` (from the SES emulator)."""
    import re
    for m in reversed(ses_messages(email)):
        found = re.search(rf"/app/{kind}\?token=([0-9a-f]+)", m.get("body", ""))
        if found:
            return found.group(1)
    raise AssertionError(f"no {kind} link was mailed to {email}")


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def signup_body(domain: str, email: str, **over) -> dict:
    body = {"company": "Acme Ltd", "domain": domain, "first_name": "Ann", "last_name": "Lee",
            "email": email, "password": "correct horse battery", "country": "DE",
            "accept_terms": True, "terms_version": "2021-11-01", "legal_age": True}
    body.update(over)
    return body


@contextlib.contextmanager
def own_lambdas(prefix: str, env_extra: dict | None = None, concurrency: int = 1):
    """Functions on a table of their own, dropped afterwards (`concurrency` instances of each)."""
    (ROOT / "tests" / "artifacts").mkdir(exist_ok=True)
    fns = Lambdas(make_table(prefix), env_extra, concurrency)
    try:
        yield fns
    finally:
        fns.stop()
        try:
            ddb().delete_table(TableName=fns.table)
        except Exception:
            pass


@pytest.fixture
def fresh(stack):
    """Functions on a table of this test's own: a sweep here touches no other test's accounts."""
    with own_lambdas("t") as fns:
        yield fns


SERVICE = {"x-service-key": os.environ.get("SERVICE_KEY", "")}
OPERATOR = {"x-operator-key": os.environ.get("OPERATOR_KEY", "")}

# ---------------------------------------------------------------- Stripe (localstripe)
STRIPE = os.environ.get("STRIPE_API_BASE", "")
STRIPE_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
CARD_OK, CARD_DECLINED, CARD_3DS = "4242424242424242", "4000000000000341", "4000002500003155"


def _form(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in data.items():
        name = f"{prefix}[{k}]" if prefix else k
        out += _form(v, name) if isinstance(v, dict) else [(name, str(v))]
    return out


def stripe(method: str, path: str, **data) -> dict:
    """A call to the Stripe emulator's REST API, as Stripe.js or the dashboard would make it."""
    r = requests.request(method, f"{STRIPE}{path}", data=_form(data) if method != "GET" else None,
                         params=_form(data) if method == "GET" else None,
                         headers={"Authorization": f"Bearer {STRIPE_KEY}"}, timeout=30)
    assert r.status_code < 500, r.text
    return r.json()


def new_card(number: str = CARD_OK) -> str:
    """A card PaymentMethod, as the card element creates it in the browser."""
    pm = stripe("POST", "/v1/payment_methods", type="card",
                card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
    return pm["id"]


def stripe_events(payment_intent: str, kind: str | None = None) -> list[dict]:
    """The emulator's events about one PaymentIntent (it keeps them oldest first)."""
    found, after = [], None
    while True:
        page = stripe("GET", "/v1/events", limit=100, **({"type": kind} if kind else {}),
                      **({"starting_after": after} if after else {}))
        found += [e for e in page["data"] if e["data"]["object"].get("id") == payment_intent]
        if not page.get("has_more") or not page["data"]:
            return found
        after = page["data"][-1]["id"]


def sign(raw: str, when: datetime, secret: str = WEBHOOK_SECRET) -> dict:
    import hashlib
    import hmac
    t = int(when.timestamp())
    sig = hmac.new(secret.encode(), f"{t}.{raw}".encode(), hashlib.sha256).hexdigest()
    return {"stripe-signature": f"t={t},v1={sig}", "content-type": "application/json"}


def deliver(fns, event: dict, when: datetime, secret: str = WEBHOOK_SECRET) -> "Reply":
    """Stripe's webhook delivery of `event`, signed and sent at a chosen event time."""
    raw = json.dumps(event)
    return fns.at(when, "renewal", "POST", "/billing/webhook", raw=raw, headers=sign(raw, when, secret))


def deliver_payment(fns, payment_intent: str, when: datetime, kind: str = "payment_intent.succeeded") -> "Reply":
    events = stripe_events(payment_intent, kind)
    assert len(events) == 1, f"{kind} for {payment_intent}: {len(events)} events"
    return deliver(fns, events[0], when)


class Customer:
    """One signed-up account and its administrator, acting at chosen times."""

    @classmethod
    def existing(cls, fns, account_id: str, domain: str, email: str) -> "Customer":
        c = cls.__new__(cls)
        c.fns, c.id, c.domain, c.email = fns, account_id, domain, email
        return c

    def __init__(self, lambdas, when: datetime, verified: bool = True, **over):
        """Signs up; with `verified`, opens the mailed link as the administrator would."""
        self.fns = lambdas
        self.domain = over.pop("domain", unique("c"))
        self.email = over.pop("email", f"{unique('admin')}@example.org")
        r = lambdas.at(when, "signup", "POST", "/signup", signup_body(self.domain, self.email, **over))
        assert r.status == 201, r
        self.id = r.json()["account_id"]
        if verified:
            self.verify(when)

    def verify(self, when: datetime) -> Reply:
        r = self.fns.at(when, "signup", "POST", "/signup/verify", {"token": link_token(self.email)})
        assert r.status == 200, r
        return r

    def sign_in(self, when: datetime) -> Reply:
        return self.fns.at(when, "accounts", "POST", "/sign-in",
                           {"domain": self.domain, "email": self.email, "password": "correct horse battery"})

    def auth(self, when: datetime) -> dict:
        r = self.sign_in(when)
        assert r.status == 200, r
        return {"authorization": f"Bearer {r.json()['token']}"}

    def view(self, when: datetime) -> dict:
        r = self.fns.at(when, "accounts", "GET", f"/accounts/{self.id}", headers=self.auth(when))
        assert r.status == 200, r
        return r.json()

    def raw(self) -> dict | None:
        """The META item as stored (read without signing in, which would count as activity)."""
        return ddb().get_item(TableName=self.fns.table, Key=key("account", id=self.id),
                              ConsistentRead=True).get("Item")

    def state(self) -> str:
        return self.raw()["state"]["S"]

    def history(self, when: datetime) -> list[dict]:
        r = self.fns.at(when, "accounts", "GET", f"/accounts/{self.id}/history", headers=self.auth(when))
        assert r.status == 200, r
        return r.json()["events"]

    def usage(self, when: datetime, users: int, storage_gb: int = 1, features=()) -> Reply:
        return self.fns.at(when, "accounts", "PUT", f"/accounts/{self.id}/usage",
                           {"users": users, "storage_gb": storage_gb, "features": list(features)}, headers=SERVICE)

    def subjects(self) -> list[str]:
        return [m["subject"] for m in ses_messages(self.email)]

    # -- payments through Stripe -------------------------------------------------------------
    def save_card(self, when: datetime, number: str = CARD_OK) -> Reply:
        """Saves a card as the portal does: a SetupIntent confirmed by Stripe.js, then by us."""
        auth = self.auth(when)
        r = self.fns.at(when, "renewal", "POST", f"/accounts/{self.id}/payment-method", headers=auth)
        assert r.status == 201, r
        si = r.json()["setup_intent"]
        stripe("POST", f"/v1/setup_intents/{si}/confirm", payment_method=new_card(number))
        return self.fns.at(when, "renewal", "POST", f"/accounts/{self.id}/payment-method/confirm",
                           {"setup_intent": si}, headers=auth)

    def auto_renew(self, when: datetime, enabled: bool) -> Reply:
        return self.fns.at(when, "renewal", "PUT", f"/accounts/{self.id}/auto-renew", {"enabled": enabled},
                           headers=self.auth(when))

    def renewal(self) -> dict:
        """The account's renewal charge as stored (attempt, status, PaymentIntent)."""
        r = self.raw().get("renewal", {}).get("M", {})
        flat = {k: next(iter(v.values())) for k, v in r.items()}
        if "amount" in r:
            flat["amount"] = int(r["amount"]["M"]["amount"]["N"])
        return flat

    def checkout(self, when: datetime, plan: str, months: int = 1) -> Reply:
        return self.fns.at(when, "renewal", "POST", f"/accounts/{self.id}/checkout",
                           {"plan": plan, "months": months}, headers=self.auth(when))

    def buy(self, when: datetime, plan: str = "standard", months: int = 1) -> Reply:
        """Checkout with the saved card (saving 4242… first if none), then Stripe's
        `payment_intent.succeeded` delivered at the same moment: the webhook's answer."""
        if not self.raw().get("payment_method", {}).get("M"):
            assert self.save_card(when).status == 200
        r = self.checkout(when, plan, months)
        assert r.status == 201, r
        return deliver_payment(self.fns, r.json()["payment_intent"], when)
