"""Plans, checkout, auto-renewal, next plan and the payment webhook, end to end."""

from datetime import timedelta

from conftest import Customer, ddb, pay, signed, utc

T0 = utc(2027, 1, 31, 12, 0, 0)
D = timedelta(days=1)


def test_the_catalog_lists_five_ranked_plans_priced_in_minor_units(lambdas):
    plans = lambdas.at(T0, "renewal", "GET", "/plans").json()["plans"]
    assert [p["id"] for p in plans] == ["free", "basic", "standard", "professional", "enterprise"]
    assert [p["rank"] for p in plans] == [0, 1, 2, 3, 4]
    assert all(isinstance(p["price_per_month"], int) and p["currency"] == "USD" for p in plans)


def test_the_compatibility_chart_lists_every_limit_exceeded(lambdas):
    c = Customer(lambdas, T0)
    c.usage(T0, users=7, storage_gb=30, features=["sites", "automation"])
    r = lambdas.at(T0, "renewal", "GET", f"/accounts/{c.id}/compatibility?plan=basic", headers=c.auth(T0))
    assert r.status == 200, r
    assert r.json() == {"plan": "basic", "fits": False, "over": [
        {"limit": "max_users", "used": 7, "allowed": 5},
        {"limit": "storage_gb", "used": 30, "allowed": 24},
        {"limit": "feature:automation", "used": 1, "allowed": 0}]}
    bad = lambdas.at(T0, "renewal", "GET", f"/accounts/{c.id}/compatibility?plan=platinum", headers=c.auth(T0))
    assert bad.status == 400 and bad.json()["errors"][0]["field"] == "plan"


def test_checkout_prices_the_months_exclusive_of_tax_and_refuses_what_cannot_be_bought(lambdas):
    c = Customer(lambdas, T0)
    auth = c.auth(T0)
    r = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/checkout", {"plan": "professional", "months": 12}, headers=auth)
    assert r.status == 201, r
    assert (r.json()["amount"], r.json()["currency"], r.json()["tax_included"]) == (19900 * 12, "USD", False)
    assert r.json()["term_start"] == "2027-01-31T12:00:00Z"
    for body, field in (({"plan": "free", "months": 1}, "plan"), ({"plan": "basic", "months": 0}, "months"),
                        ({"plan": "basic", "months": 37}, "months"), ({"months": 1}, "plan"), ({"plan": "basic"}, "months"),
                        ({"plan": "basic", "months": "two"}, "months")):
        r = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/checkout", body, headers=auth)
        assert r.status == 400 and r.json()["errors"][0]["field"] == field, (body, r)


def test_a_term_bought_on_the_31st_ends_on_the_last_day_of_february(lambdas):
    c = Customer(lambdas, T0)
    assert pay(lambdas, T0, c.id, "basic", 1).json()["term_end"] == "2027-02-28T12:00:00Z"


def test_a_payment_while_active_extends_the_term_from_its_end(lambdas):
    c = Customer(lambdas, T0)
    pay(lambdas, T0, c.id, "standard", 1)
    r = pay(lambdas, T0 + 10 * D, c.id, "standard", 2)
    assert r.json()["term_end"] == "2027-04-28T12:00:00Z"  # Feb 28 + 2 months: no gap, no overlap


def test_a_webhook_delivered_twice_is_applied_once(lambdas):
    c = Customer(lambdas, T0)
    first = pay(lambdas, T0, c.id, "standard", 1, event_id="evt-dup-" + c.id)
    again = pay(lambdas, T0 + timedelta(minutes=1), c.id, "standard", 1, event_id="evt-dup-" + c.id)
    assert first.json()["status"] == "applied"
    assert (again.status, again.json()["status"]) == (200, "duplicate")
    assert c.view(T0 + D)["term_end"] == "2027-02-28T12:00:00Z"
    assert [e["kind"] for e in c.history(T0 + D)].count("payment") == 1


def test_a_failed_payment_is_recorded_and_changes_no_date_even_out_of_order(lambdas):
    c = Customer(lambdas, T0)
    pay(lambdas, T0, c.id, "standard", 1)
    r = pay(lambdas, T0 - timedelta(minutes=1), c.id, "standard", 1, kind="payment.failed")
    assert (r.status, r.json()["status"]) == (200, "recorded")
    view = c.view(T0 + D)
    assert (view["state"], view["term_end"]) == ("active", "2027-02-28T12:00:00Z")
    assert "payment_failed" in [e["kind"] for e in c.history(T0 + D)]


def test_unsigned_tampered_and_stale_webhooks_are_refused(lambdas):
    c = Customer(lambdas, T0)
    body = {"id": "evt-x", "type": "payment.succeeded", "account_id": c.id, "plan": "basic", "months": 1,
            "amount": 4900, "tax": 0, "currency": "USD"}
    raw, headers = signed(body, T0)
    assert lambdas.at(T0, "renewal", "POST", "/billing/webhook", raw=raw).status == 400
    tampered = raw.replace('"months": 1', '"months": 12')
    assert lambdas.at(T0, "renewal", "POST", "/billing/webhook", raw=tampered, headers=headers).status == 400
    assert lambdas.at(T0 + timedelta(seconds=301), "renewal", "POST", "/billing/webhook", raw=raw, headers=headers).status == 400
    forged_raw, forged = signed(body, T0, secret="not-the-secret")
    assert lambdas.at(T0, "renewal", "POST", "/billing/webhook", raw=forged_raw, headers=forged).status == 400
    ok = lambdas.at(T0 + timedelta(seconds=300), "renewal", "POST", "/billing/webhook", raw=raw, headers=headers)
    assert ok.status == 200 and ok.json()["status"] == "applied"
    assert c.view(T0 + D)["plan"] == "basic"


def test_turning_auto_renewal_off_stops_the_charge_request_and_on_brings_it_back(fresh):
    c = Customer(fresh, T0)
    pay(fresh, T0, c.id, "standard", 1)
    end = utc(2027, 2, 28, 12, 0, 0)
    r = fresh.at(T0 + D, "renewal", "PUT", f"/accounts/{c.id}/auto-renew", {"enabled": False}, headers=c.auth(T0 + D))
    assert r.status == 200 and r.json()["auto_renew"] is False
    fresh.sweep(end - 3 * D)
    assert "renewal_charge" not in [e["kind"] for e in c.history(end - 3 * D)]
    r = fresh.at(end - 2 * D, "renewal", "PUT", f"/accounts/{c.id}/auto-renew", {"enabled": True}, headers=c.auth(end - 2 * D))
    assert r.json()["auto_renew"] is True
    fresh.sweep(end - 2 * D)
    assert [e["kind"] for e in c.history(end - 2 * D)].count("renewal_charge") == 1
    charge = ddb().get_item(TableName=fresh.table, Key={"PK": {"S": f"CHARGE#{c.id}#{int(end.timestamp())}"},
                                                      "SK": {"S": "CHARGE"}})["Item"]
    assert (charge["status"]["S"], charge["plan"]["S"], charge["amount"]["N"]) == ("requested", "standard", "9900")
    missing = fresh.at(end - 2 * D, "renewal", "PUT", f"/accounts/{c.id}/auto-renew", {}, headers=c.auth(end - 2 * D))
    assert missing.status == 400 and missing.json()["errors"][0]["field"] == "enabled"


def test_the_next_plan_must_be_free_or_cheaper_and_needs_a_paid_term(lambdas):
    c = Customer(lambdas, T0)
    r = lambdas.at(T0, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "free"}, headers=c.auth(T0))
    assert (r.status, r.json()["code"]) == (409, "no_paid_term")
    pay(lambdas, T0, c.id, "standard", 1)
    r = lambdas.at(T0, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "enterprise"}, headers=c.auth(T0))
    assert r.status == 400 and r.json()["errors"][0]["field"] == "plan"
    r = lambdas.at(T0, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "basic"}, headers=c.auth(T0))
    assert r.status == 200 and r.json()["next_plan"] == "basic" and r.json()["chart"]["fits"] is True


def test_paying_on_the_last_moment_of_grace_continues_from_the_old_term_end(fresh):
    c = Customer(fresh, T0)
    pay(fresh, T0, c.id, "standard", 1)
    end = utc(2027, 2, 28, 12, 0, 0)
    fresh.sweep(end + D)
    assert c.state() == "grace"
    r = pay(fresh, end + 15 * D - timedelta(seconds=1), c.id, "standard", 1)
    assert r.json()["term_end"] == "2027-03-28T12:00:00Z" and r.json()["state"] == "active"


def test_paying_at_the_grace_end_restores_a_suspended_account_from_the_payment(fresh):
    c = Customer(fresh, T0)
    pay(fresh, T0, c.id, "standard", 1)
    grace_end = utc(2027, 3, 15, 12, 0, 0)
    r = pay(fresh, grace_end, c.id, "standard", 1)  # no sweep ran: the payment finds it suspended
    assert r.json()["state"] == "active" and r.json()["term_end"] == "2027-04-15T12:00:00Z"
    kinds = [e["kind"] for e in c.history(grace_end)]
    after_grace = kinds[kinds.index("grace"):]
    assert after_grace.index("suspended") < after_grace.index("payment") < after_grace.index("active"), kinds


def test_an_operator_suspension_for_a_violation_is_not_lifted_by_a_payment(lambdas):
    c = Customer(lambdas, T0)
    r = lambdas.at(T0, "accounts", "POST", f"/accounts/{c.id}/suspension", {"note": "spam"},
                   headers={"x-operator-key": "local-only-operator-key"})
    assert r.status == 200 and r.json()["state_reason"] == "terms_violation"
    r = pay(lambdas, T0 + D, c.id, "standard", 1)
    assert r.json()["status"] == "unapplied" and r.json()["state"] == "suspended"
