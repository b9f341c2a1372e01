"""A year of each kind of account, replayed by invoking the sweep through `cargo lambda invoke`
with chosen event times against DynamoDB Local, with the mail read back from the SES emulator."""

from datetime import timedelta

from conftest import SERVICE, Customer, Lambdas, ddb, deliver_payment, key, ses_messages, signup_body, utc

T0 = utc(2027, 3, 1, 8, 0, 0)
D = timedelta(days=1)


def mail_to(c):
    return ses_messages(c.email)


def test_an_idle_free_account_is_warned_archived_warned_and_deleted_then_its_names_are_free(fresh):
    c = Customer(fresh, T0)
    fresh.sweep(T0 + 23 * D - timedelta(seconds=1))
    assert c.subjects() == [f"{c.domain}: verify your e-mail address", f"Welcome to {c.domain}"]
    fresh.sweep(T0 + 23 * D)
    assert c.subjects()[-1].startswith(f"{c.domain}: archiving on 2027-03-31")
    fresh.sweep(T0 + 30 * D)
    assert c.state() == "archived"
    archived = next(m for m in mail_to(c) if m["subject"].endswith("is archived"))
    assert "deleted on 2027-04-15 08:00 UTC" in archived["body"] and "Sign in to restore" in archived["body"]
    fresh.sweep(T0 + 37 * D)
    fresh.sweep(T0 + 44 * D)
    assert [s for s in c.subjects() if "deletion on" in s] == [f"{c.domain}: deletion on 2027-04-15 08:00 UTC"] * 2
    fresh.sweep(T0 + 45 * D - timedelta(seconds=1))
    assert c.state() == "archived"
    out = fresh.sweep(T0 + 45 * D)
    assert out["purged_accounts"] == 1

    tomb = c.raw()
    assert tomb["state"]["S"] == "deleted" and tomb["reason"]["S"] == "inactivity"
    assert not {"domain", "admins", "company", "usage"} & set(tomb), "the tombstone keeps no personal data"
    meta = key("account", id=c.id)
    rest = ddb().query(TableName=fresh.table, KeyConditionExpression="PK = :p",
                       ExpressionAttributeValues={":p": meta["PK"]})["Items"]
    assert [i["SK"] for i in rest] == [meta["SK"]]
    assert fresh.at(T0 + 46 * D, "signup", "GET", f"/signup/domains/{c.domain}").json()["available"] is True
    again = fresh.at(T0 + 46 * D, "signup", "POST", "/signup", signup_body(c.domain, c.email))
    assert again.status == 201, "the domain and the e-mail are released for reuse (§21.4)"


def test_a_free_account_used_every_few_weeks_stays_active_all_year(fresh):
    c = Customer(fresh, T0)
    for week in range(0, 53, 3):
        at = T0 + timedelta(weeks=week)
        assert fresh.at(at, "accounts", "POST", f"/accounts/{c.id}/activity", headers=SERVICE).status == 204
        fresh.sweep(at + 20 * D)
    assert c.state() == "active"
    assert c.subjects() == [f"{c.domain}: verify your e-mail address", f"Welcome to {c.domain}"]


def test_an_archived_account_is_restored_by_an_administrator_signing_in(fresh):
    c = Customer(fresh, T0)
    fresh.sweep(T0 + 31 * D)
    assert c.state() == "archived"
    assert fresh.at(T0 + 32 * D, "accounts", "POST", f"/accounts/{c.id}/activity", headers=SERVICE).status == 204
    assert c.state() == "archived", "only an administrator's sign-in retrieves it (§21.1)"
    r = c.sign_in(T0 + 40 * D)
    assert r.status == 200 and r.json()["state"] == "active"
    fresh.sweep(T0 + 60 * D)
    assert c.state() == "active", "the inactivity count restarted at the sign-in"
    fresh.sweep(T0 + 70 * D)
    assert c.state() == "archived"


def test_a_paid_account_that_auto_renews_stays_active_for_a_year(fresh):
    c = Customer(fresh, T0)
    assert c.buy(T0, "standard", 1).json()["status"] == "applied"
    term_end = T0.replace(month=4)
    for month in range(12):
        fresh.sweep(term_end - 7 * D)
        assert fresh.sweep(term_end - 3 * D)["charges_made"] == 1
        charges = [e for e in c.history(term_end - 3 * D) if e["kind"] == "renewal_charge"]
        assert len(charges) == month + 1, "one charge per term, recorded in the history"
        # Stripe's webhook says the off-session charge succeeded before the term ends.
        assert deliver_payment(fresh, c.renewal()["payment_intent"], term_end - 2 * D).json()["status"] == "applied"
        fresh.sweep(term_end + D)
        view = c.view(term_end + D)
        assert view["state"] == "active"
        assert view["term_end"] > term_end.strftime("%Y-%m-%dT%H:%M:%SZ")
        term_end = utc(2027 + (3 + month + 1) // 12, (3 + month + 1) % 12 + 1, 1, 8, 0, 0)
    assert not [s for s in c.subjects() if "grace" in s or "suspen" in s]


def test_a_paid_account_that_lapses_goes_through_grace_and_suspension_to_deletion(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    c.auto_renew(T0, False)
    end = utc(2027, 4, 1, 8, 0, 0)
    fresh.sweep(end - timedelta(seconds=1))
    assert c.state() == "active"
    fresh.sweep(end)
    assert c.state() == "grace"
    assert f"{c.domain}: your paid term has ended, grace period until 2027-04-16 08:00 UTC" in c.subjects()
    fresh.sweep(end + 12 * D)
    assert f"{c.domain}: suspension on 2027-04-16 08:00 UTC" in c.subjects()
    fresh.sweep(end + 15 * D - timedelta(seconds=1))
    assert c.state() == "grace"
    fresh.sweep(end + 15 * D)
    assert c.state() == "suspended" and c.raw()["state_reason"]["S"] == "not_renewed"
    suspended = next(m for m in c.subjects() if m.endswith("is suspended"))
    assert suspended
    fresh.sweep(end + 64 * D)
    assert c.state() == "suspended"
    fresh.sweep(end + 65 * D)
    assert c.state() == "deleted"


def test_a_paid_account_downgrading_to_free_with_fitting_usage_becomes_active_free(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    auth = c.auth(T0 + D)
    r = fresh.at(T0 + D, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "free"}, headers=auth)
    assert r.status == 200 and r.json()["chart"]["fits"] is True
    fresh.sweep(utc(2027, 4, 1, 8, 0, 0))
    view = c.view(utc(2027, 4, 2))
    assert (view["state"], view["plan"], view["term_end"]) == ("active", "free", None)


def test_a_paid_account_downgrading_with_content_over_free_is_suspended_for_incompatible_content(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    assert c.usage(T0 + D, users=12, storage_gb=3, features=["telephony"]).status == 200
    r = fresh.at(T0 + D, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "free"}, headers=c.auth(T0 + D))
    assert r.json()["chart"]["fits"] is False
    assert {o["limit"] for o in r.json()["chart"]["over"]} == {"max_users", "feature:telephony"}
    fresh.sweep(utc(2027, 4, 1, 8, 0, 0))
    assert c.state() == "grace"
    fresh.sweep(utc(2027, 4, 16, 8, 0, 0))
    assert c.state() == "suspended" and c.raw()["state_reason"]["S"] == "incompatible_content"


def test_a_suspended_account_is_restored_by_buying_a_plan_that_fits(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "basic", 1)
    c.usage(T0 + D, users=40, storage_gb=20)
    fresh.sweep(utc(2027, 4, 16, 8, 0, 0))
    assert c.state() == "suspended"
    at = utc(2027, 4, 20, 10, 0, 0)
    auth = c.auth(at)  # administrators of a suspended account can still sign in (§21.3)
    refused = fresh.at(at, "renewal", "POST", f"/accounts/{c.id}/checkout", {"plan": "basic", "months": 1}, headers=auth)
    assert refused.status == 422 and refused.json()["code"] == "incompatible"
    ok = fresh.at(at, "renewal", "POST", f"/accounts/{c.id}/checkout", {"plan": "standard", "months": 1}, headers=auth)
    assert ok.status == 201 and ok.json()["term_start"] == "2027-04-20T10:00:00Z"
    assert deliver_payment(fresh, ok.json()["payment_intent"], at).json()["status"] == "applied"
    view = c.view(at)
    assert (view["state"], view["plan"], view["term_end"]) == ("active", "standard", "2027-05-20T10:00:00Z")
    assert f"{c.domain}: your account is active again" in c.subjects()


def test_a_terminated_account_is_deleted_thirty_days_after_the_notice(fresh):
    c = Customer(fresh, T0)
    r = fresh.at(T0 + D, "accounts", "POST", f"/accounts/{c.id}/termination", {"confirm_domain": c.domain}, headers=c.auth(T0 + D))
    assert r.status == 200
    fresh.sweep(T0 + 31 * D - timedelta(seconds=1))
    assert c.state() == "terminated"
    fresh.sweep(T0 + 31 * D)
    assert c.state() == "deleted"


def test_a_data_request_reminds_the_administrators_before_its_date_then_is_flagged_overdue(fresh):
    c = Customer(fresh, T0)
    r = fresh.at(T0, "submit-form", "POST", "/forms/data-request",
                 {"name": "Bo Smith", "email": "bo@example.net", "domain": c.domain, "kind": "removal",
                  "details": "Please remove my contact record."})
    assert r.status == 201, r
    assert r.json()["respond_by"] == "2027-03-31T08:00:00Z"

    def reminders():
        return [m["subject"] for m in ses_messages(c.email) if "personal data request" in m["subject"]]

    fresh.sweep(T0 + 23 * D - timedelta(seconds=1))
    assert reminders() == []
    fresh.sweep(T0 + 23 * D)
    fresh.sweep(T0 + 23 * D + timedelta(hours=1))
    assert reminders() == [f"{c.domain}: personal data request due in 7 days"], "the 7-day reminder, once"
    fresh.sweep(T0 + 28 * D)
    assert len(reminders()) == 2, "the 2-day reminder"
    fresh.sweep(T0 + 30 * D - timedelta(seconds=1))
    assert len(reminders()) == 2
    fresh.sweep(T0 + 30 * D)
    assert len(reminders()) == 3 and "overdue" in reminders()[-1].lower()
    item = ddb().get_item(TableName=fresh.table, Key=key("data_request", id=r.json()["request_id"]))["Item"]
    assert item["overdue"]["BOOL"] is True and "DueAt" not in item


def test_a_new_terms_version_reaches_every_administrator_once(fresh):
    customers = [Customer(fresh, T0) for _ in range(3)]
    published = Lambdas(fresh.table, {"TERMS_VERSION": "2027-06-01"})
    try:
        first = published.sweep(T0 + D)
        assert first["terms_notices"] == 3
        assert published.sweep(T0 + D + timedelta(minutes=5))["terms_notices"] == 0
        for c in customers:
            assert c.subjects().count("Our Terms of Service have been updated") == 1
        old = published.at(T0 + D, "signup", "POST", "/signup", signup_body("late-signer", "late@example.org"))
        assert old.status == 400 and old.json()["errors"][0]["field"] == "terms_version"
        new = published.at(T0 + D, "signup", "POST", "/signup",
                           signup_body("late-signer", "late@example.org", terms_version="2027-06-01"))
        assert new.status == 201
        assert published.sweep(T0 + 2 * D)["terms_notices"] == 0, "who accepted the new version is not told"
    finally:
        published.stop()
