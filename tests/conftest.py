"""End-to-end fixtures: the local stack, a table of our own, and every function served by
`cargo lambda watch` against it. Requests with a chosen event time go through the same
runtime with API Gateway v2 events, so any moment of an account's life can be replayed."""

from __future__ import annotations

import contextlib
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


def make_table(prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    for cmd in ("create-table", "seed"):
        subprocess.run([PY, str(ROOT / "infra" / "bootstrap.py"), cmd, "--table", name], check=True,
                       stdout=subprocess.DEVNULL)
    return name


class Lambdas:
    """Every function under one `cargo lambda watch`, bound to one table."""

    def __init__(self, table: str, env_extra: dict | None = None):
        self.table = table
        self.port = _free_port()
        env = dict(os.environ, TABLE_NAME=table, PATH=f"{VENV_BIN}:{os.environ['PATH']}")
        env.update(env_extra or {})
        self.log = open(ROOT / "tests" / "artifacts" / f"watch-{table}-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [CARGO_LAMBDA, "lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", str(self.port)],
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
           raw: str | None = None) -> "Reply":
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
                         "sourceIp": "198.51.100.7", "userAgent": hdrs["user-agent"]},
            },
        }
        if query:
            event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        r = requests.post(f"http://127.0.0.1:{self.port}/2015-03-31/functions/{function}/invocations",
                          json=event, timeout=120)
        r.raise_for_status()
        return Reply(r.json())

    # -- the schedule, through `cargo lambda invoke` ----------------------------------------
    def sweep(self, when: datetime) -> dict:
        event = {"version": "0", "id": uuid.uuid4().hex, "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": "123456789012",
                 "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
                 "resources": [], "detail": {}}
        out = subprocess.run(
            [CARGO_LAMBDA, "lambda", "invoke", "lifecycle-sweep", "--data-ascii", json.dumps(event),
             "-A", "127.0.0.1", "-P", str(self.port)],
            cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


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
def own_lambdas(prefix: str, env_extra: dict | None = None):
    """Functions on a table of their own, dropped afterwards."""
    (ROOT / "tests" / "artifacts").mkdir(exist_ok=True)
    fns = Lambdas(make_table(prefix), env_extra)
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


WEBHOOK_SECRET = os.environ.get("WEBHOOK_SECRET", "")
SERVICE = {"x-service-key": os.environ.get("SERVICE_KEY", "")}


def signed(body: dict, when: datetime, secret: str = WEBHOOK_SECRET) -> tuple[str, dict]:
    import hashlib
    import hmac
    raw = json.dumps(body)
    t = int(when.timestamp())
    sig = hmac.new(secret.encode(), f"{t}.{raw}".encode(), hashlib.sha256).hexdigest()
    return raw, {"billing-signature": f"t={t},v1={sig}"}


def pay(lambdas, when: datetime, account_id: str, plan: str = "standard", months: int = 1,
        event_id: str | None = None, kind: str = "payment.succeeded") -> Reply:
    body = {"id": event_id or uuid.uuid4().hex, "type": kind, "account_id": account_id, "plan": plan,
            "months": months, "amount": 9900 * months, "tax": 0, "currency": "USD"}
    raw, headers = signed(body, when)
    return lambdas.at(when, "renewal", "POST", "/billing/webhook", raw=raw, headers=headers)


class Customer:
    """One signed-up account and its administrator, acting at chosen times."""

    def __init__(self, lambdas, when: datetime, **over):
        self.fns = lambdas
        self.domain = over.pop("domain", unique("c"))
        self.email = over.pop("email", f"{unique('admin')}@example.org")
        r = lambdas.at(when, "signup", "POST", "/signup", signup_body(self.domain, self.email, **over))
        assert r.status == 201, r
        self.id = r.json()["account_id"]

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
        item = ddb().get_item(TableName=self.fns.table, Key={"PK": {"S": f"ACCOUNT#{self.id}"}, "SK": {"S": "META"}},
                              ConsistentRead=True).get("Item")
        return item

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
