"""Races between separate function processes, as Lambda runs concurrent invocations in separate
sandboxes (tests/race.py). Each test releases its contenders together, checks that they were in
flight at one moment, and checks that each thing happened exactly once."""

import json
import threading
import time
from datetime import timedelta

import pytest
from conftest import (Customer, ddb, http_event, key, key_prefix, own_lambdas, schedule_event, ses_messages, sign,
                      shard_of, signup_body, stripe_events, unique, utc)
from race import Fleet, assert_overlapped, race
from test_forms import FORM, add_partner, hour, request_body

T0 = utc(2027, 3, 1, 8, 0, 0)
D = timedelta(days=1)


def paid(fns, when, next_plan=None) -> Customer:
    """An account on `standard` for one month from `when` (term end: when + 1 month)."""
    c = Customer(fns, when)
    assert c.buy(when, "standard", 1).json()["status"] == "applied"
    if next_plan:
        r = fns.at(when, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": next_plan}, headers=c.auth(when))
        assert r.status == 200, r
    return c


def payment_event(c: Customer, when) -> dict:
    """Stripe's webhook event for a month of `standard` bought with the saved card at `when`."""
    r = c.checkout(when, "standard", 1)
    assert r.status == 201, r
    raw = json.dumps(stripe_events(r.json()["payment_intent"], "payment_intent.succeeded")[0])
    return http_event(when, "POST", "/billing/webhook", raw=raw, headers=sign(raw, when))


@pytest.mark.parametrize("sweeps", [2, 4])
def test_sweeps_at_once_make_each_transition_once_and_send_each_notice_once(fresh, sweeps):
    # Half archive with a notice; half move from a paid term to Free with none, so only the
    # version condition keeps a stale sweep from applying (and counting) the step again.
    archiving = [Customer(fresh, T0) for _ in range(8)]
    to_free = [paid(fresh, T0, next_plan="free") for _ in range(8)]
    at = T0 + 31 * D
    with Fleet("lifecycle-sweep", sweeps, fresh.table) as fleet:
        outcomes = fleet.race([schedule_event(at)] * sweeps)
    assert_overlapped(outcomes, f"{sweeps} sweeps")
    runs = [o.payload for o in outcomes]
    assert sum(r["transitions"] for r in runs) == 16, runs
    assert sum(r["lost_races"] for r in runs) >= 1, f"no sweep lost a race mid-page: {runs}"
    for c in archiving:
        assert c.state() == "archived"
        assert sum("is archived" in s for s in c.subjects()) == 1
    for c in to_free:
        raw = c.raw()
        assert (raw["state"]["S"], raw["plan"]["S"]) == ("active", "free")


@pytest.mark.parametrize("same", ["label", "email"])
def test_eight_signups_for_one_label_or_one_email_make_one_account(fresh, same):
    label, email = unique("race"), f"{unique('one')}@example.org"
    bodies = [signup_body(label if same == "label" else unique("race"),
                          email if same == "email" else f"{unique('a')}@example.org") for _ in range(8)]
    with Fleet("signup", 8, fresh.table) as fleet:
        outcomes = fleet.race([http_event(T0, "POST", "/signup", b) for b in bodies])
    assert_overlapped(outcomes, f"8 signups, one {same}")
    statuses = sorted(o.payload["statusCode"] for o in outcomes)
    assert statuses == [201] + [409] * 7, statuses
    codes = {json.loads(o.payload["body"]).get("code") for o in outcomes if o.payload["statusCode"] == 409}
    assert codes == {"domain_taken" if same == "label" else "email_taken"}
    # The losers left no claim behind: of the names that differed, exactly one is claimed.
    client = ddb()
    other = [key("email_claim", email=b["email"]) if same == "label" else key("domain_claim", label=b["domain"])
             for b in bodies]
    assert sum("Item" in client.get_item(TableName=fresh.table, Key=k) for k in other) == 1


def test_a_payment_and_a_sweep_on_one_account_at_once_both_count(stack):
    # The sweep sends the renewal notice while a payment, made a minute earlier, extends the
    # term: whichever commits second re-reads, so neither is overwritten by the other's older
    # read. The sweep is a worker of the account's shard alone, so its first query finds the
    # account; six rounds, one account due in each (created a day apart).
    met = 0
    with own_lambdas("race") as fns, Fleet("lifecycle-sweep", 1, fns.table) as sweep, \
            Fleet("renewal", 1, fns.table) as renewal:
        for i in range(6):
            c = paid(fns, T0 + i * D)
            at = utc(2027, 4, 1 + i, 8, 0, 0) - 7 * D
            webhook = payment_event(c, at - timedelta(minutes=1))
            job = schedule_event(at, shards=shard_of(c.id), workers=256)
            outcomes = race([(sweep.procs[0], job), (renewal.procs[0], webhook)])
            assert_overlapped(outcomes, f"a sweep and a payment, round {i + 1}")
            assert outcomes[1].payload["statusCode"] == 200, outcomes[1].payload
            met += outcomes[0].payload["due"]
            assert c.raw()["term_end"]["S"] == f"2027-05-0{1 + i}T08:00:00Z", "the payment stands whoever wrote first"
    assert met >= 2, f"the sweep found the account due in only {met} of 6 rounds: too few real collisions"


def test_one_webhook_event_delivered_to_four_instances_at_once_applies_once(fresh):
    c = paid(fresh, T0)
    at = T0 + D
    with Fleet("renewal", 4, fresh.table) as fleet:
        outcomes = fleet.race([payment_event(c, at)] * 4)
    assert_overlapped(outcomes, "4 deliveries of one event")
    answers = sorted(str(json.loads(o.payload["body"]).get("status")) for o in outcomes)
    assert answers == ["applied", "duplicate", "duplicate", "duplicate"], answers
    assert c.raw()["term_end"]["S"] == "2027-05-01T08:00:00Z", "one month added, once"


def test_two_sweeps_claiming_the_same_outbox_mail_send_it_once(fresh):
    # Welcomes that SES refused at signup wait in the outbox; two sweeps after the lease race for them.
    # Their retry is due at once (MAIL_RETRY_BASE_SECONDS=0 on the wall clock).
    dead_ses = {"AWS_ENDPOINT_URL_SES": "http://127.0.0.1:9", "MAIL_RETRY_BASE_SECONDS": "0"}
    with Fleet("signup", 1, fresh.table, dead_ses) as signup:
        emails = [f"{unique('late')}@example.org" for _ in range(6)]
        for e in emails:
            r = signup.procs[0].invoke(http_event(T0, "POST", "/signup", signup_body(unique("mail"), e)))
            assert r.payload["statusCode"] == 201, r.payload
    assert all(ses_messages(e) == [] for e in emails)
    at = T0 + timedelta(minutes=3)
    with Fleet("lifecycle-sweep", 2, fresh.table) as fleet:
        outcomes = fleet.race([schedule_event(at)] * 2)
    assert_overlapped(outcomes, "2 sweeps on 6 leased-out mails")
    assert sum(o.payload["mails_retried"] for o in outcomes) == 6, [o.payload for o in outcomes]
    for e in emails:
        assert len(ses_messages(e)) == 1, e


def test_implementation_requests_from_six_instances_share_the_partners_and_lose_nothing(fresh):
    # Each lead takes a partner's slot at the stamp it read: two requests that chose the same
    # partner cannot both take it, so leads rotate fairly under load and none is lost.
    run = unique("")
    emails = [add_partner(fresh, f"au-{run}-{c}", ["AU"]) for c in "abcdef"]
    bodies = [request_body(country="AU", region="Sydney") for _ in range(12)]
    replies = []
    with Fleet("submit-form", 6, fresh.table) as fleet:
        for half in (bodies[:6], bodies[6:]):
            outcomes = fleet.race([http_event(hour(4), "POST", FORM, b) for b in half])
            assert_overlapped(outcomes, "6 implementation requests")
            replies += [(o.payload["statusCode"], json.loads(o.payload["body"])) for o in outcomes]
    assert [s for s, _ in replies] == [201] * 12, replies
    assert all(len(set(b["partners"])) == 5 for _, b in replies)
    counts = [len(ses_messages(e)) for e in emails]
    assert counts == [10] * 6, f"as fair as one request at a time: {counts}"
    assert all(len(ses_messages(b["email"])) == 1 for b in bodies)


def test_twenty_wrong_sign_ins_from_one_source_at_once_reach_the_password_check_five_times(fresh):
    # Each attempt is counted, atomically, before its password is checked: 20 attempts really in
    # flight together still get 5 checks between them (counted from the functions' own log lines).
    c = Customer(fresh, T0)
    body = {"domain": c.domain, "email": c.email, "password": "not the password"}
    with Fleet("accounts", 20, fresh.table) as fleet:
        outcomes = fleet.race([http_event(T0, "POST", "/sign-in", body, source_ip="203.0.113.5")] * 20)
        time.sleep(0.5)  # the last log lines through the pipes
        checked = sum("password_checked=true" in line for line in fleet.logs())
    assert_overlapped(outcomes, "20 sign-in attempts from one source")
    statuses = sorted(o.payload["statusCode"] for o in outcomes)
    assert statuses == [401] * 5 + [429] * 15, statuses
    assert checked == 5, f"{checked} password checks"


# ------------------------------------------------------------------ the sweep at scale

def idle_free_accounts(fns, n: int) -> list[Customer]:
    """Free accounts created at T0: each is archived at T0 + 30 days, with one notice."""
    return [Customer(fns, T0) for _ in range(n)]


def archived_once(fns, people: list[Customer]) -> None:
    for c in people:
        pk, events = key_prefix("history", id=c.id)
        items = ddb().query(TableName=fns.table, KeyConditionExpression="PK = :p AND begins_with(SK, :e)",
                            ExpressionAttributeValues={":p": {"S": pk}, ":e": {"S": events}})["Items"]
        kinds = [i["kind"]["S"] for i in items]
        assert c.state() == "archived", c.id
        assert kinds.count("archived") == 1 and kinds.count("notice:archived") == 1, kinds


def test_two_dispatchers_at_once_archive_each_account_once_and_tell_each_once(stack):
    # Two schedules fire together (a retried one, an overlap): each dispatcher invokes 4 workers
    # through `cargo lambda watch`, so 8 workers sweep the same shards at the same time.
    with own_lambdas("fanout", concurrency=8) as fns:
        people = idle_free_accounts(fns, 24)
        env = {"AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{fns.port}", "SWEEP_WORKERS": "4",
               "SWEEP_INVOCATION": "RequestResponse"}
        with Fleet("sweep-dispatcher", 2, fns.table, env) as dispatchers:
            outcomes = dispatchers.race([schedule_event(T0 + 31 * D)] * 2)
        assert_overlapped(outcomes, "2 dispatchers of 4 workers each")
        runs = [o.payload for o in outcomes]
        assert all(r["invoked"] == 4 and r["failed"] == 0 for r in runs), runs
        assert sum(r["transitions"] for r in runs) == 24, runs
        archived_once(fns, people)
        for c in people:
            assert sum(s.endswith("is archived") for s in c.subjects()) == 1, c.subjects()


def test_a_worker_killed_mid_run_leaves_the_rest_due_and_the_next_does_each_once(fresh):
    people = idle_free_accounts(fresh, 40)
    slow = {"SWEEP_IN_FLIGHT": "1", "OUTBOX_LEASE_SECONDS": "2"}

    def archived() -> int:
        return sum(c.state() == "archived" for c in people)

    with Fleet("lifecycle-sweep", 1, fresh.table, slow) as fleet:
        worker = fleet.procs[0]
        done: list = []
        t = threading.Thread(target=lambda: done.append(_try(worker.invoke, schedule_event(T0 + 31 * D), 60)))
        t.start()
        deadline = time.monotonic() + 60
        while archived() < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        worker.proc.kill()  # SIGKILL: no cleanup, as a sandbox that dies
        t.join()
    cut = archived()
    assert 0 < cut < len(people), f"killed mid-run: {cut} of {len(people)} archived"
    time.sleep(2.5)  # the dead worker's mail leases run out
    with Fleet("lifecycle-sweep", 1, fresh.table) as fleet:
        [after] = fleet.race([schedule_event(T0 + 31 * D)])
    assert after.payload["transitions"] == len(people) - cut, after.payload
    archived_once(fresh, people)
    sent = [sum(s.endswith("is archived") for s in c.subjects()) for c in people]
    assert all(n >= 1 for n in sent) and sum(n - 1 for n in sent) <= 1, f"each told once, one duplicate at most: {sent}"


def _try(f, *args):
    try:
        return f(*args)
    except BaseException as e:  # noqa: BLE001 - the killed worker's invocation fails; that is the test
        return e
