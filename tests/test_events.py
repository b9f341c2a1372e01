"""Events for the product (SPEC: Events for the product): every change the product must enforce
reaches an EventBridge bus (moto's), numbered per account with no gap, once per change, and
nothing is lost while the bus is down; the standing read answers in one item.

Each test has a bus and a queue of its own (`infra/bootstrap.py event-bus`), so it reads only its
own account's events."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta

import boto3
import pytest
from bootstrap import event_bus  # infra/ is on sys.path (conftest)

from conftest import SERVICE, Customer, own_lambdas, schedule_event, utc
from race import Fleet, assert_overlapped

T0 = utc(2033, 1, 10, 9)
D = timedelta(days=1)


@pytest.fixture
def bus(stack):
    """A bus of this test's own and its queue: (bus name, queue URL)."""
    name = f"bus-{uuid.uuid4().hex[:8]}"
    return name, event_bus(name, f"q-{name}")


def received(queue_url: str) -> list[dict]:
    """Every event in the queue, as the product would read it (each message's body)."""
    sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def story(events: list[dict], account_id: str) -> list[tuple]:
    """One account's events by seq: (seq, detail-type, what changed)."""
    mine = sorted((e for e in events if e["detail"]["account_id"] == account_id), key=lambda e: e["detail"]["seq"])
    out = []
    for e in mine:
        d = e["detail"]
        change = {k: d[k] for k in ("from", "to", "reason") if k in d}
        out.append((d["seq"], e["detail-type"], change))
    return out


def test_an_account_s_whole_life_reaches_the_product_in_order_once_each(bus):
    name, queue = bus
    with own_lambdas("events", {"EVENT_BUS_NAME": name}) as fns:
        c = Customer(fns, T0)
        assert c.buy(T0 + timedelta(minutes=1)).json()["status"] == "applied"
        c.auto_renew(T0 + timedelta(minutes=2), False)
        end = utc(2033, 2, 10, 9, 1)
        fns.sweep(end + timedelta(minutes=1))  # the term ends: grace
        fns.sweep(end + 15 * D + timedelta(minutes=1))  # grace ends: suspended, not renewed
        assert c.state() == "suspended"
        assert c.buy(end + 16 * D).json()["status"] == "applied"  # paying restores it
        assert c.state() == "active"
        r = fns.at(end + 17 * D, "accounts", "POST", f"/accounts/{c.id}/termination", {"confirm_domain": c.domain},
                   headers=c.auth(end + 17 * D))
        assert r.status == 200, r
        fns.sweep(end + 48 * D)  # deleted 30 days after the notice; every event published
        assert c.state() == "deleted"
        gone = fns.at(end + 48 * D, "accounts", "GET", f"/accounts/by-domain/{c.domain}", headers=SERVICE)
        assert gone.status == 404, "a deleted account's label is free again"
    events = received(queue)
    got = story(events, c.id)
    assert got == [
        (1, "AccountCreated", {}),
        (2, "AccountPlanChanged", {"from": "free", "to": "standard"}),
        (3, "AccountStateChanged", {"from": "active", "to": "grace", "reason": None}),
        (4, "AccountStateChanged", {"from": "grace", "to": "suspended", "reason": "not_renewed"}),
        (5, "AccountStateChanged", {"from": "suspended", "to": "active", "reason": "payment"}),
        (6, "AccountStateChanged", {"from": "active", "to": "terminated", "reason": "termination"}),
        (7, "AccountDeleted", {"reason": "termination"}),
    ], got
    mine = [e for e in events if e["detail"]["account_id"] == c.id]
    assert all(e["source"] == "saas.accounts" and e["detail"]["domain"] == c.domain for e in mine)
    assert len({e["detail"]["event_id"] for e in mine}) == 7, "one id per change"


def test_with_the_bus_unreachable_no_event_is_lost_and_a_later_run_publishes_them_in_order(bus):
    name, queue = bus
    with own_lambdas("busdown", {"EVENT_BUS_NAME": name}) as fns:
        people = [Customer(fns, T0) for _ in range(3)]
        dead = {"EVENT_BUS_NAME": name, "AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:9"}
        with Fleet("lifecycle-sweep", 1, fns.table, dead) as fleet:
            [down] = fleet.race([schedule_event(T0 + 31 * D)])  # archives them, the bus is down
        assert down.payload["transitions"] == 3 and down.payload["events_published"] == 0, down.payload
        assert down.payload["events_failed"] > 0
        assert received(queue) == []
        later = fns.sweep(T0 + 31 * D + timedelta(minutes=5))
        assert later["events_published"] == 6, later
    events = received(queue)
    for c in people:
        assert [(s, t) for s, t, _ in story(events, c.id)] == [(1, "AccountCreated"), (2, "AccountStateChanged")]


def test_two_sweeps_at_once_publish_each_change_at_least_once_and_never_under_two_ids(bus):
    name, queue = bus
    with own_lambdas("busrace", {"EVENT_BUS_NAME": name}) as fns:
        people = [Customer(fns, T0) for _ in range(8)]
        with Fleet("lifecycle-sweep", 2, fns.table, {"EVENT_BUS_NAME": name}) as fleet:
            outcomes = fleet.race([schedule_event(T0 + 31 * D)] * 2)
        assert_overlapped(outcomes, "2 sweeps publishing events")
    events = received(queue)
    for c in people:
        mine = [e["detail"] for e in events if e["detail"]["account_id"] == c.id]
        ids_by_seq: dict[int, set] = {}
        for d in mine:
            ids_by_seq.setdefault(d["seq"], set()).add(d["event_id"])
        assert sorted(ids_by_seq) == [1, 2], mine
        assert all(len(ids) == 1 for ids in ids_by_seq.values()), ids_by_seq


def test_the_standing_read_answers_state_and_plan_from_the_service_key_only(lambdas):
    c = Customer(lambdas, T0)
    r = lambdas.at(T0, "accounts", "GET", f"/accounts/by-domain/{c.domain}", headers=SERVICE)
    assert r.status == 200, r
    body = r.json()
    assert (body["account_id"], body["state"], body["plan"], body["state_reason"]) == (c.id, "active", "free", None)
    assert body["limits"]["max_users"] >= 1 and body["version"] == 1
    suspended = lambdas.at(T0, "accounts", "POST", f"/accounts/{c.id}/suspension", {"note": "spam"},
                           headers={"x-operator-key": os.environ["OPERATOR_KEY"]})
    assert suspended.status == 200
    after = lambdas.at(T0, "accounts", "GET", f"/accounts/by-domain/{c.domain}", headers=SERVICE).json()
    assert (after["state"], after["state_reason"], after["version"]) == ("suspended", "terms_violation", 2)
    assert lambdas.at(T0, "accounts", "GET", f"/accounts/by-domain/{c.domain}").status == 401
    assert lambdas.at(T0, "accounts", "GET", "/accounts/by-domain/nobody-has-this", headers=SERVICE).status == 404
