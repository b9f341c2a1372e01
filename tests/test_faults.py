"""Faults in the middle of a signup, a webhook, a form submission and a sweep, then recovery:
nothing lost, nothing half-written, nothing sent twice.

These tests run on a stack of their own, beside the main one: a DynamoDB Local that keeps its data
on disk (`-dbPath`, so it survives being killed and restarted), a moto SES emulator, and between
the functions and DynamoDB a small fault proxy of this module. Faults are of two kinds:
- a process killed (SIGKILL) and restarted: SES down, DynamoDB down;
- DynamoDB "going away" at an exact point through the proxy: from the N-th TransactWriteItems on
  every request is refused, optionally after that transaction was applied but its answer lost.

Mail is counted per recipient over the emulator's whole life (what an SES instance had accepted
before it was killed is kept). Every wait is bounded; if the second stack cannot start, the
module is skipped with the reason.
"""

from __future__ import annotations

import collections
import http.client
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests

from conftest import (PY, ROOT, VENV_BIN, Customer, Lambdas, deliver, key, key_prefix, pk_stem, shard_of,
                      signup_body, stripe, stripe_events, unique)

import stack as stack_tool  # infra/stack.py (conftest puts infra/ on sys.path)

OPERATOR = {"x-operator-key": os.environ["OPERATOR_KEY"]}
# The functions here run with OUTBOX_LEASE_SECONDS=2 and MAIL_RETRY_BASE_SECONDS=6: leases and
# retry times are wall-clock, so a test waits this long for an unsent mail to be due again. The
# base is long enough that a test's early sweep on a loaded 2-core CI machine still lands inside it.
MAIL_WAIT = 6.5
MIN = timedelta(minutes=1)
DAY = timedelta(days=1)
START_TIMEOUT_S = 90


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the fault proxy

class FaultProxy:
    """HTTP proxy in front of DynamoDB Local that can make DynamoDB go away at an exact request.

    `arm(after, mode, op)`: the first `after` requests of operation `op` (TransactWriteItems unless
    told) pass; at the next one
      - "down":           it is refused, and so is every request after it (until `heal`);
      - "lose_then_down": it is applied, its answer is lost, and every request after is refused;
      - "lose_once":      it is applied and its answer is lost; later requests pass;
      - "refuse_once":    it is refused (not applied), and so are the SDK's retries of it (3 attempts
                          in all); later requests pass.
    A refused request gets no answer at all (the connection is closed), as when the host is gone.
    """

    def __init__(self, upstream_port: int):
        self.upstream = upstream_port
        self.lock = threading.Lock()
        self.counts: collections.Counter = collections.Counter()
        self.down = False
        self._armed: tuple[int, str, str] | None = None
        self._seen = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                action = proxy._decide(self.headers.get("x-amz-target", "").rsplit(".", 1)[-1])
                if action == "refuse":
                    self.close_connection = True
                    return
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=30)
                    conn.request("POST", self.path, body=body, headers=dict(self.headers.items()))
                    resp = conn.getresponse()
                    data = resp.read()
                    conn.close()
                except OSError:
                    self.close_connection = True  # DynamoDB Local is not there: neither is an answer
                    return
                if action == "lose":
                    self.close_connection = True
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _decide(self, target: str) -> str:
        with self.lock:
            self.counts[target] += 1
            if self.down:
                return "refuse"
            if self._armed is not None and target == self._armed[2]:
                after, mode, _ = self._armed
                self._seen += 1
                if self._seen > after:
                    self._armed = None
                    if mode == "down":
                        self.down = True
                        return "refuse"
                    if mode == "refuse_once":
                        if self._seen < after + 3:
                            self._armed = (after, mode, target)
                        return "refuse"
                    if mode == "lose_then_down":
                        self.down = True
                    return "lose"
            return "pass"

    def arm(self, after: int, mode: str, op: str = "TransactWriteItems") -> None:
        assert mode in ("down", "lose_then_down", "lose_once", "refuse_once")
        with self.lock:
            self._armed, self._seen, self.down = (after, mode, op), 0, False

    def heal(self) -> None:
        with self.lock:
            self._armed, self.down = None, False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ the second stack

class Service:
    """A process of ours in its own session; stopped by its own process group id only."""

    def __init__(self, name: str, cmd: list[str], cwd: str, log_path: str, answers):
        self.name, self.cmd, self.cwd, self.log_path, self.answers = name, cmd, cwd, log_path, answers
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not come up; see {self.log_path}")
            time.sleep(0.25)

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.proc = None


class FaultStack:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fault-stack-")
        self.ddb_port, self.ses_port = free_port(), free_port()
        self.ddb_url = f"http://127.0.0.1:{self.ddb_port}"
        self.ses_url = f"http://127.0.0.1:{self.ses_port}"
        jar_dir = stack_tool.dynamodb_local_dir()
        os.makedirs(f"{self.dir}/db")
        self.ddb = Service("dynamodb", [
            "java", f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}", "-jar", str(jar_dir / "DynamoDBLocal.jar"),
            "-sharedDb", "-dbPath", f"{self.dir}/db", "-disableTelemetry", "-port", str(self.ddb_port)],
            self.dir, f"{self.dir}/dynamodb.log", lambda: stack_tool.dynamodb_answers(self.ddb_port))
        self.ses = Service("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.ses_port)],
                           self.dir, f"{self.dir}/moto.log", lambda: stack_tool.moto_answers(self.ses_port))
        self.earlier_mail: list[dict] = []  # what SES instances killed before had accepted
        self.proxy: FaultProxy | None = None

    def env(self, **extra) -> dict:
        return dict(os.environ, AWS_ENDPOINT_URL_DYNAMODB=self.ddb_url, AWS_ENDPOINT_URL_SES=self.ses_url, **extra)

    def start(self) -> None:
        self.ddb.start()
        self.ses_start()
        self.proxy = FaultProxy(self.ddb_port)

    def stop(self) -> None:
        if self.proxy:
            self.proxy.close()
        self.ddb.kill()
        self.ses.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def bootstrap(self, *args: str) -> None:
        subprocess.run([PY, str(ROOT / "infra" / "bootstrap.py"), *args], check=True, env=self.env(),
                       stdout=subprocess.DEVNULL, timeout=120)

    def new_table(self) -> str:
        name = f"fault-{uuid.uuid4().hex[:10]}"
        self.bootstrap("create-table", "--table", name)
        self.bootstrap("seed", "--table", name)
        return name

    # faults
    def ddb_kill(self) -> None:
        self.ddb.kill()

    def ddb_start(self) -> None:
        self.ddb.start()

    def ses_kill(self) -> None:
        self.earlier_mail += self._current_mail()
        self.ses.kill()

    def ses_start(self) -> None:
        self.ses.start()
        self.bootstrap("verify-sender")

    # reads
    def client(self):
        return boto3.client("dynamodb", endpoint_url=self.ddb_url)

    def _current_mail(self) -> list[dict]:
        data = requests.get(f"{self.ses_url}/moto-api/data.json", timeout=10).json()
        return data.get("ses", {}).get("Message", [])

    def mail(self, to: str) -> list[dict]:
        msgs = self.earlier_mail + (self._current_mail() if self.ses.proc else [])
        return [m for m in msgs if to in m.get("destinations", {}).get("ToAddresses", [])]

    def subjects(self, to: str) -> list[str]:
        return sorted(m["subject"] for m in self.mail(to))


@pytest.fixture(scope="module")
def fs():
    s = FaultStack()
    try:
        s.start()
    except Exception as e:  # noqa: BLE001 - any reason the second stack cannot run
        s.stop()
        pytest.skip(f"a second stack (DynamoDB Local with -dbPath, moto) could not start: {e}")
    yield s
    s.stop()


def lambdas_on(fs: FaultStack, table: str) -> Lambdas:
    (ROOT / "tests" / "artifacts").mkdir(exist_ok=True)
    return Lambdas(table, env_extra={"AWS_ENDPOINT_URL_DYNAMODB": fs.proxy.url, "AWS_ENDPOINT_URL_SES": fs.ses_url,
                                     "CHARGE_LEASE_SECONDS": "2", "OUTBOX_LEASE_SECONDS": "2",
                                     "MAIL_RETRY_BASE_SECONDS": "6"})


@pytest.fixture(scope="module")
def fns(fs):
    f = lambdas_on(fs, fs.new_table())
    yield f
    f.stop()


@pytest.fixture(autouse=True)
def healthy(request):
    """Every test starts and ends with the whole fault stack up and the proxy passing."""
    if "fs" not in request.fixturenames:
        yield
        return
    fs = request.getfixturevalue("fs")
    yield
    fs.proxy.heal()
    if fs.ddb.proc is None:
        fs.ddb_start()
    if fs.ses.proc is None:
        fs.ses_start()


# ------------------------------------------------------------------ helpers

def sweep(fns: Lambdas, when: datetime, shards: list[int] | None = None) -> dict:
    """The schedule's event straight to the runtime (for every shard, or a worker's job for
    `shards`); the summary, or {"error": ...} if it failed."""
    event = {"version": "0", "id": uuid.uuid4().hex, "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
             "resources": [], "detail": {}}
    if shards is not None:
        event.update(shards=shards, workers=len(shards))
    r = requests.post(f"http://127.0.0.1:{fns.port}/2015-03-31/functions/lifecycle-sweep/invocations",
                      json=event, timeout=300)
    out = r.json() if r.content else {}
    if r.status_code != 200 or "due" not in out:
        return {"error": out or r.text}
    return out


def item(fs: FaultStack, table: str, k: dict) -> dict | None:
    """The item at key `k` (from conftest's `key`), or None."""
    return fs.client().get_item(TableName=table, Key=k, ConsistentRead=True).get("Item")


def partition(fs: FaultStack, table: str, pk: str) -> list[dict]:
    return fs.client().query(TableName=table, KeyConditionExpression="PK = :p",
                             ExpressionAttributeValues={":p": {"S": pk}}, ConsistentRead=True)["Items"]


def history(fs: FaultStack, table: str, account_id: str) -> list[str]:
    pk, events = key_prefix("history", id=account_id)
    return [i["kind"]["S"] for i in partition(fs, table, pk) if i["SK"]["S"].startswith(events)]


def outbox(fs: FaultStack, table: str, key_start: str) -> list[dict]:
    """Every outbox mail whose mail key starts with `key_start` (wherever the mail is stored)."""
    out, start = [], None
    while True:
        kw = {"TableName": table, "FilterExpression": "#e = :o AND begins_with(#k, :k)",
              "ExpressionAttributeNames": {"#e": "entity", "#k": "key"},
              "ExpressionAttributeValues": {":o": {"S": "outbox"}, ":k": {"S": key_start}}, "ConsistentRead": True}
        if start:
            kw["ExclusiveStartKey"] = start
        page = fs.client().scan(**kw)
        out += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return out


def due_keys(fs: FaultStack, table: str, until: datetime) -> set[str]:
    """The PKs of every account, tombstone or record in the due-time index due at or before `until`."""
    keys, start = set(), None
    while True:
        kw = {"TableName": table, "IndexName": "ByDueTime", "FilterExpression": "begins_with(DuePK, :d) AND DueAt <= :t",
              "ExpressionAttributeValues": {":d": {"S": pk_stem("due")}, ":t": {"N": str(int(until.timestamp()))}}}
        if start:
            kw["ExclusiveStartKey"] = start
        page = fs.client().scan(**kw)
        keys |= {i["PK"]["S"] for i in page["Items"]}
        start = page.get("LastEvaluatedKey")
        if not start:
            return keys


def signup(fns: Lambdas, when: datetime, **over):
    domain, email = over.pop("domain", unique("f")), over.pop("email", f"{unique('adm')}@example.org")
    return domain, email, fns.at(when, "signup", "POST", "/signup", signup_body(domain, email, **over))


def customer(fns: Lambdas, fs: "FaultStack", when: datetime) -> Customer:
    """A signed-up account whose administrator opened the verification link (from this stack's SES)."""
    domain, email, r = signup(fns, when)
    assert r.status == 201, r
    token = re.search(r"/app/verify\?token=([0-9a-f]+)", fs.mail(email)[-1]["body"]).group(1)
    assert fns.at(when, "signup", "POST", "/signup/verify", {"token": token}).status == 200
    return Customer.existing(fns, r.json()["account_id"], domain, email)


def payment_event(c: Customer, when: datetime, plan: str = "standard") -> dict:
    """Stripe's `payment_intent.succeeded` for a month of `plan` bought with a saved 4242 card."""
    assert c.save_card(when).status == 200
    r = c.checkout(when, plan, 1)
    assert r.status == 201, r
    return stripe_events(r.json()["payment_intent"], "payment_intent.succeeded")[0]


def pay(fns: Lambdas, when: datetime, event: dict):
    return deliver(fns, event, when)


def assert_5xx_problem(r) -> None:
    assert r.status >= 500, r
    assert r.headers.get("content-type") == "application/problem+json", r
    assert r.json()["code"] == "internal", r


def no_duplicates(subjects: list[str]) -> bool:
    return len(subjects) == len(set(subjects))


# ------------------------------------------------------------------ signup

def test_signup_with_ses_down_succeeds_and_its_welcome_is_sent_once_by_a_sweep_after_the_lease(fs, fns):
    t0 = utc(2030, 1, 1, 8)
    fs.ses_kill()
    domain, email, r = signup(fns, t0)
    assert r.status == 201, r
    aid = r.json()["account_id"]
    [mail] = outbox(fs, fns.table, f"{aid}#verify_email#")
    assert mail["status"]["S"] == "sending" and mail["attempts"]["N"] == "1" and mail["last_error"]["S"]
    assert mail["DuePK"]["S"].startswith(pk_stem("mail_due")), "the unsent link waits in the mail lane"
    assert history(fs, fns.table, aid).count("notice:verify_email") == 1

    early = sweep(fns, t0 + DAY, shards=shard_of(mail["key"]["S"]))  # one shard: quick, well inside the wait
    assert "error" not in early and early["mails_retried"] == 0, "its retry time (wall clock) holds it, whatever the event time"
    fs.ses_start()
    assert fs.mail(email) == []
    time.sleep(MAIL_WAIT)
    s = sweep(fns, t0 + MIN)
    assert s["mails_retried"] >= 1 and s["notices_failed"] == 0, s
    assert fs.subjects(email) == [f"{domain}: verify your e-mail address"]
    [mail] = outbox(fs, fns.table, f"{aid}#verify_email#")
    assert mail["status"]["S"] == "sent" and "DueAt" not in mail
    sweep(fns, t0 + 10 * MIN)
    assert fs.subjects(email) == [f"{domain}: verify your e-mail address"], "a later sweep sends nothing again"


def test_signup_with_dynamodb_down_writes_nothing_and_a_retry_creates_the_account_once(fs, fns):
    t0 = utc(2030, 2, 1, 8)
    fs.ddb_kill()
    domain, email, r = signup(fns, t0)
    assert_5xx_problem(r)
    fs.ddb_start()
    assert item(fs, fns.table, key("domain_claim", label=domain)) is None, "no half-written claim"
    assert item(fs, fns.table, key("email_claim", email=email)) is None
    assert fs.mail(email) == []
    _, _, r = signup(fns, t0 + MIN, domain=domain, email=email)
    assert r.status == 201, r
    sweep(fns, t0 + 10 * MIN)
    assert fs.subjects(email) == [f"{domain}: verify your e-mail address"]


def test_signup_whose_commit_is_applied_but_its_answer_lost_makes_one_account_and_one_welcome(fs, fns):
    """The signup transaction reaches DynamoDB, the answer does not come back, the network is fine
    again: whatever the function answers, there is one account, and one welcome mail."""
    t0 = utc(2030, 3, 1, 8)
    fs.proxy.arm(after=0, mode="lose_once")
    domain, email, r = signup(fns, t0)
    claim = item(fs, fns.table, key("domain_claim", label=domain))
    assert claim is not None, "the transaction was applied"
    aid = claim["account_id"]["S"]
    assert item(fs, fns.table, key("account", id=aid))["state"]["S"] == "active"
    time.sleep(MAIL_WAIT)
    sweep(fns, t0 + MIN)
    assert fs.subjects(email) == [f"{domain}: verify your e-mail address"], "sent once, by the function or by the sweep"
    # The caller must be able to tell it worked (201), or at least not be told the domain is someone else's.
    assert r.status == 201 or (r.status >= 500 and r.json()["code"] == "internal"), (
        f"a signup that was applied is answered {r}")


def test_a_mail_whose_sent_mark_is_lost_is_sent_again_once_and_never_a_third_time(fs, fns):
    """The one at-least-once window (README): SES accepted the mail, then DynamoDB went away before
    it was marked sent. The sweep sends it again after the lease, once; then it is marked."""
    t0 = utc(2030, 3, 15, 8)
    fs.proxy.arm(after=0, mode="down", op="UpdateItem")  # the link mail's mark_sent is the signup's first UpdateItem
    domain, email, r = signup(fns, t0)
    fs.proxy.heal()
    assert r.status == 201, r
    assert fs.subjects(email) == [f"{domain}: verify your e-mail address"]
    time.sleep(MAIL_WAIT)
    sweep(fns, t0 + MIN)
    assert fs.subjects(email) == [f"{domain}: verify your e-mail address"] * 2
    time.sleep(MAIL_WAIT)
    sweep(fns, t0 + 2 * MIN)
    assert fs.subjects(email) == [f"{domain}: verify your e-mail address"] * 2


# ------------------------------------------------------------------ webhook

def test_webhook_with_dynamodb_down_fails_then_its_redelivery_is_applied_once(fs, fns):
    t0 = utc(2030, 4, 1, 8)
    c = customer(fns, fs, t0)
    aid, email = c.id, c.email
    event = payment_event(c, t0)
    event_id = event["id"]
    fs.ddb_kill()
    r = pay(fns, t0 + MIN, event)
    assert_5xx_problem(r)
    fs.ddb_start()
    acct = item(fs, fns.table, key("account", id=aid))
    assert acct["plan"]["S"] == "free" and item(fs, fns.table, key("webhook", event_id=event_id)) is None
    r = pay(fns, t0 + 2 * MIN, event)  # Stripe delivers it again
    assert r.status == 200 and r.json()["status"] == "applied", r
    r = pay(fns, t0 + 3 * MIN, event)
    assert r.status == 200 and r.json()["status"] == "duplicate", r
    acct = item(fs, fns.table, key("account", id=aid))
    assert acct["plan"]["S"] == "standard"
    assert acct["term_end"]["S"].startswith("2030-05-01T08:02"), acct["term_end"]
    assert history(fs, fns.table, aid).count("payment") == 1
    sweep(fns, t0 + 10 * MIN)
    assert no_duplicates(fs.subjects(email)), fs.subjects(email)


def test_webhook_whose_commit_is_applied_but_its_answer_lost_is_applied_once(fs, fns):
    t0 = utc(2030, 5, 1, 8)
    c = customer(fns, fs, t0)
    aid, email = c.id, c.email
    event = payment_event(c, t0)
    event_id = event["id"]
    fs.proxy.arm(after=0, mode="lose_then_down")
    r = pay(fns, t0 + MIN, event)
    assert_5xx_problem(r)
    fs.proxy.heal()
    assert item(fs, fns.table, key("webhook", event_id=event_id)) is not None, "it was applied"
    r = pay(fns, t0 + 2 * MIN, event)
    assert r.status == 200 and r.json()["status"] == "duplicate", r
    acct = item(fs, fns.table, key("account", id=aid))
    assert acct["plan"]["S"] == "standard" and acct["term_end"]["S"].startswith("2030-06-01T08:01")
    assert history(fs, fns.table, aid).count("payment") == 1
    time.sleep(MAIL_WAIT)
    sweep(fns, t0 + 2 * MIN)
    assert no_duplicates(fs.subjects(email)), fs.subjects(email)


def test_a_renewal_charge_whose_record_is_cut_is_found_at_stripe_and_never_made_twice(fs, fns):
    t0 = utc(2030, 5, 10, 8)
    c = customer(fns, fs, t0)
    assert pay(fns, t0, payment_event(c, t0)).json()["status"] == "applied"
    end = utc(2030, 6, 10, 8)
    sweep(fns, end - 7 * DAY)  # the renewal notice, out of the way
    # The sweep records the attempt pending (a PutItem), creates it at Stripe, then records the
    # PaymentIntent (an UpdateItem): that write is cut.
    fs.proxy.arm(after=0, mode="refuse_once", op="UpdateItem")
    first = sweep(fns, end - 3 * DAY)
    fs.proxy.heal()
    assert first["charges_made"] == 0 and first["charges_requested"] == 1, first
    acct = item(fs, fns.table, key("account", id=c.id))
    assert acct["renewal"]["M"]["status"]["S"] == "pending", "the attempt stays pending, and due"
    customer_id = acct["stripe_customer"]["S"]
    made = [ch for ch in stripe("GET", "/v1/charges", customer=customer_id, limit=100)["data"]]
    assert len(made) == 2, "the checkout's charge and the renewal's, made before the cut"
    time.sleep(2.5)  # the lease of the sweep that died (CHARGE_LEASE_SECONDS=2) runs out
    second = sweep(fns, end - 3 * DAY + 10 * MIN)
    assert (second["charges_found"], second["charges_made"]) == (1, 0), second
    assert len(stripe("GET", "/v1/charges", customer=customer_id, limit=100)["data"]) == 2, "no second charge"
    acct = item(fs, fns.table, key("account", id=c.id))
    assert acct["renewal"]["M"]["status"]["S"] == "created"
    assert sweep(fns, end - 2 * DAY)["charges_made"] == 0


# ------------------------------------------------------------------ form submission

def add_partners(fns: Lambdas, country: str, n: int) -> list[str]:
    emails = []
    for i in range(n):
        pid = f"{country.lower()}-{uuid.uuid4().hex[:8]}"
        body = {"id": pid, "name": f"Partner {pid}", "email": f"leads-{pid}@partners.example.com",
                "countries": [country], "products": [], "certified": True}
        r = fns.at(utc(2030, 1, 1), "submit-form", "POST", "/partners", body, headers=OPERATOR)
        assert r.status == 201, r
        emails.append(body["email"])
    return emails


def request_body(country: str) -> dict:
    return {"first_name": "Ada", "last_name": "Lovelace", "email": f"{unique('req')}@example.com",
            "phone": "+1 555 010 2030", "country": country, "region": "Somewhere", "product": "cloud",
            "request": "A CRM for 40 people", "privacy": "I accept"}


def test_form_submission_with_ses_down_is_accepted_and_each_mail_is_sent_once_by_a_sweep(fs, fns):
    t0 = utc(2030, 6, 1, 8)
    partners = add_partners(fns, "NZ", 2)
    body = request_body("NZ")
    fs.ses_kill()
    r = fns.at(t0, "submit-form", "POST", "/forms/implementation-request", body)
    assert r.status == 201 and len(r.json()["partners"]) == 2, r
    rid = r.json()["request_id"]
    mails = outbox(fs, fns.table, f"form#{rid}#")
    assert len(mails) == 3 and {m["status"]["S"] for m in mails} == {"sending"}
    fs.ses_start()
    time.sleep(MAIL_WAIT)
    sweep(fns, t0 + MIN)
    for addr in partners:
        assert len(fs.mail(addr)) == 1, addr
    assert len(fs.mail(body["email"])) == 1
    sweep(fns, t0 + 10 * MIN)
    assert [len(fs.mail(a)) for a in partners + [body["email"]]] == [1, 1, 1]


def test_form_submission_with_dynamodb_down_is_refused_whole_and_a_resubmission_is_sent_once(fs, fns):
    t0 = utc(2030, 7, 1, 8)
    partners = add_partners(fns, "FJ", 2)
    body = request_body("FJ")
    fs.ddb_kill()
    r = fns.at(t0, "submit-form", "POST", "/forms/implementation-request", body)
    assert_5xx_problem(r)
    fs.ddb_start()
    assert [fs.mail(a) for a in partners + [body["email"]]] == [[], [], []], "nothing was sent"
    r = fns.at(t0 + MIN, "submit-form", "POST", "/forms/implementation-request", body)
    assert r.status == 201 and len(r.json()["partners"]) == 2, r
    sweep(fns, t0 + 10 * MIN)
    assert [len(fs.mail(a)) for a in partners + [body["email"]]] == [1, 1, 1]


def test_form_submission_whose_commit_answer_is_lost_is_not_lost_and_sent_once(fs, fns):
    """The submission's transaction is applied, its answer lost, DynamoDB then unreachable: the
    caller gets an error, yet the accepted request is on record and each mail goes out once."""
    t0 = utc(2030, 8, 1, 8)
    partners = add_partners(fns, "TO", 2)
    body = request_body("TO")
    fs.proxy.arm(after=0, mode="lose_then_down")
    r = fns.at(t0, "submit-form", "POST", "/forms/implementation-request", body)
    assert_5xx_problem(r)
    fs.proxy.heal()
    [record] = [i for i in fs.client().scan(TableName=fns.table, FilterExpression="begins_with(PK, :p)",
                                            ExpressionAttributeValues={":p": {"S": pk_stem("form")}})["Items"]
                if i.get("email", {}).get("S") == body["email"]]
    assert len(outbox(fs, fns.table, f"form#{record['id']['S']}#")) == 3, "the request and its 3 mails are on record"
    time.sleep(MAIL_WAIT)
    sweep(fns, t0 + MIN)
    assert [len(fs.mail(a)) for a in partners + [body["email"]]] == [1, 1, 1]
    sweep(fns, t0 + 10 * MIN)
    assert [len(fs.mail(a)) for a in partners + [body["email"]]] == [1, 1, 1]


# ------------------------------------------------------------------ sweep

@pytest.mark.parametrize("mode", ["down", "lose_then_down"])
def test_a_sweep_that_fails_midway_leaves_the_rest_due_and_the_next_applies_each_once(fs, mode):
    """Six idle free accounts are due to be archived. DynamoDB goes away at the third account's
    commit ("lose_then_down": after that commit was applied). The failed sweep leaves the other
    accounts active and due; the next sweeps archive each once and send each notice once."""
    fns = lambdas_on(fs, fs.new_table())  # a table of its own: nothing else is due in it
    try:
        t0 = utc(2029, 1, 1, 8)
        people = []
        for _ in range(6):
            c = customer(fns, fs, t0)
            people.append((c.id, c.domain, c.email))
        s = sweep(fns, t0 + 23 * DAY)
        assert "error" not in s and s["notices_sent"] == 6, s
        fs.proxy.arm(after=2, mode=mode)
        failed = sweep(fns, t0 + 30 * DAY)
        fs.proxy.heal()

        states = {aid: item(fs, fns.table, key("account", id=aid))["state"]["S"] for aid, _, _ in people}
        archived = [aid for aid, st in states.items() if st == "archived"]
        assert len(archived) == (3 if mode == "lose_then_down" else 2), (states, failed)
        still_due = due_keys(fs, fns.table, t0 + 30 * DAY)
        for aid, st in states.items():
            kinds = history(fs, fns.table, aid)
            if st == "active":  # untouched, not half-written, and still due
                assert "archived" not in kinds and "notice:archived" not in kinds, kinds
                assert key("account", id=aid)["PK"]["S"] in still_due
            else:
                assert kinds.count("archived") == 1 and kinds.count("notice:archived") == 1, kinds

        sweep(fns, t0 + 30 * DAY + MIN)
        time.sleep(MAIL_WAIT)  # the lease of a mail whose commit's answer was lost runs out
        s = sweep(fns, t0 + 30 * DAY + 2 * MIN)
        assert "error" not in s, s
        again = sweep(fns, t0 + 30 * DAY + 10 * MIN)
        assert again["transitions"] == 0 and again["notices_sent"] == 0, again
        for aid, domain, email in people:
            assert item(fs, fns.table, key("account", id=aid))["state"]["S"] == "archived"
            kinds = history(fs, fns.table, aid)
            assert kinds.count("archived") == 1 and kinds.count("notice:archived") == 1, kinds
            subjects = fs.subjects(email)
            assert no_duplicates(subjects), subjects
            assert sum(s.endswith("is archived") for s in subjects) == 1, subjects
    finally:
        fns.stop()
