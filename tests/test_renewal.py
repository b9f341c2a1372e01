"""Plans, the saved card, checkout, auto-renewal, next plan and Stripe's webhook, end to end
against localstripe: tests fetch Stripe's events from it and deliver them signed, at the event
time they choose (no live webhook applies at the wall-clock time)."""

import json
from datetime import timedelta

from conftest import (CARD_DECLINED, CARD_OK, OPERATOR, Customer, deliver, deliver_payment, ses_messages,
                      stripe_events, utc)

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
    no_card = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/checkout", {"plan": "basic", "months": 1}, headers=auth)
    assert (no_card.status, no_card.json()["code"]) == (409, "no_payment_method")
    assert c.save_card(T0).status == 200
    r = c.checkout(T0, "professional", 12)
    assert r.status == 201, r
    body = r.json()
    assert (body["amount"], body["proration"], body["currency"], body["tax_included"]) == (19900 * 12, 0, "USD", False)
    assert body["term_start"] == "2027-01-31T12:00:00Z" and body["payment_intent"].startswith("pi_")
    assert body["status"] == "succeeded" and body["client_secret"]
    for bad, field in (({"plan": "free", "months": 1}, "plan"), ({"plan": "basic", "months": 0}, "months"),
                       ({"plan": "basic", "months": 37}, "months"), ({"months": 1}, "plan"), ({"plan": "basic"}, "months"),
                       ({"plan": "basic", "months": "two"}, "months")):
        r = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/checkout", bad, headers=auth)
        assert r.status == 400 and r.json()["errors"][0]["field"] == field, (bad, r)


def test_a_saved_card_is_shown_by_brand_and_last_four_and_a_plan_bought_with_it_applies(lambdas):
    c = Customer(lambdas, T0)
    saved = c.save_card(T0)
    assert saved.status == 200 and saved.json()["payment_method"]["last4"] == "4242"
    r = c.buy(T0, "basic", 1)
    assert (r.status, r.json()["status"], r.json()["state"]) == (200, "applied", "active")
    view = c.view(T0)
    assert view["payment_method"] == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}
    assert (view["plan"], view["term_end"]) == ("basic", "2027-02-28T12:00:00Z"), "a 31st ends on the last of February"
    receipt = [m for m in ses_messages(c.email) if "receipt" in m["subject"]]
    assert len(receipt) == 1 and "49.00 USD" in receipt[0]["body"] and "Bitrix24 Ltd." in receipt[0]["body"]


def test_a_setup_that_is_not_confirmed_or_not_this_accounts_is_refused(lambdas):
    c, other = Customer(lambdas, T0), Customer(lambdas, T0)
    auth = c.auth(T0)
    si = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/payment-method", headers=auth).json()["setup_intent"]
    r = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/payment-method/confirm", {"setup_intent": si}, headers=auth)
    assert (r.status, r.json()["code"]) == (409, "setup_incomplete")
    theirs = lambdas.at(T0, "renewal", "POST", f"/accounts/{other.id}/payment-method", headers=other.auth(T0))
    r = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/payment-method/confirm",
                   {"setup_intent": theirs.json()["setup_intent"]}, headers=auth)
    assert r.status == 400 and r.json()["errors"][0]["field"] == "setup_intent"


def test_a_declining_card_at_checkout_answers_402_and_changes_nothing(lambdas):
    c = Customer(lambdas, T0)
    assert c.save_card(T0, CARD_DECLINED).status == 200
    r = c.checkout(T0, "basic", 1)
    assert (r.status, r.json()["code"]) == (402, "card_declined")
    assert "decline_code" in r.json(), "null where Stripe gives none (localstripe gives none)"
    view = c.view(T0)
    assert (view["plan"], view["term_end"]) == ("free", None)
    assert "checkout_declined" in [e["kind"] for e in c.history(T0)]
    assert [m["subject"] for m in ses_messages(c.email)][2:] == [], "a decline sends no notice (after the link and welcome)"


def test_a_payment_while_active_extends_the_term_from_its_end(lambdas):
    c = Customer(lambdas, T0)
    c.buy(T0, "standard", 1)
    r = c.buy(T0 + 10 * D, "standard", 2)
    assert r.json()["status"] == "applied"
    assert c.view(T0 + 10 * D)["term_end"] == "2027-04-28T12:00:00Z"  # Feb 28 + 2 months: no gap, no overlap


def test_a_webhook_delivered_twice_or_in_the_wrong_order_is_applied_once(lambdas):
    c = Customer(lambdas, T0)
    first = c.buy(T0, "standard", 1)
    assert first.json()["status"] == "applied"
    pi = c.view(T0)["last_payment"] and json.loads(first.text)
    events = [e for e in stripe_events(c.raw()["last_payment"]["M"]["payment_intent"]["S"])]
    again = deliver(lambdas, events[0], T0 + timedelta(minutes=1))
    assert (again.status, again.json()["status"]) == (200, "duplicate")
    # The same payment under another event id (Stripe may send one) is not applied twice.
    other = dict(events[0], id=events[0]["id"] + "x")
    assert deliver(lambdas, other, T0 + timedelta(minutes=2)).json()["status"] == "duplicate"
    assert c.view(T0 + D)["term_end"] == "2027-02-28T12:00:00Z"
    assert [e["kind"] for e in c.history(T0 + D)].count("payment") == 1
    assert pi


def test_a_failure_after_the_success_of_the_same_payment_changes_nothing(lambdas):
    c = Customer(lambdas, T0)
    c.buy(T0, "standard", 1)
    pi = c.raw()["last_payment"]["M"]["payment_intent"]["S"]
    ok = stripe_events(pi, "payment_intent.succeeded")[0]
    failed = dict(ok, id=ok["id"] + "f", type="payment_intent.payment_failed")
    r = deliver(lambdas, failed, T0 + timedelta(minutes=1))
    assert r.status == 200
    view = c.view(T0 + D)
    assert (view["state"], view["plan"], view["term_end"]) == ("active", "standard", "2027-02-28T12:00:00Z")


def test_a_payment_of_another_amount_or_currency_or_for_nothing_known_is_unapplied(lambdas):
    c = Customer(lambdas, T0)
    assert c.save_card(T0).status == 200
    r = c.checkout(T0, "standard", 1)
    ok = stripe_events(r.json()["payment_intent"], "payment_intent.succeeded")[0]

    def variant(suffix, **obj):
        return dict(ok, id=ok["id"] + suffix, data={"object": dict(ok["data"]["object"], **obj)})

    for event in (variant("a", amount=9899), variant("c", currency="eur"),
                  variant("u", id="pi_unknown", metadata={"account_id": c.id, "kind": "checkout", "checkout_id": "nope"}),
                  variant("n", metadata={})):
        r = deliver(lambdas, event, T0)
        assert (r.status, r.json()["status"]) == (200, "unapplied"), (event["id"], r)
    assert c.view(T0)["plan"] == "free"
    listed = lambdas.at(T0, "renewal", "GET", "/operator/unapplied-payments", headers=OPERATOR).json()["payments"]
    mine = {p["event_id"]: p for p in listed if p["event_id"].startswith(ok["id"])}
    assert set(mine) == {ok["id"] + s for s in "acun"}
    assert mine[ok["id"] + "a"]["reason"].startswith("the amount or currency differs")
    assert mine[ok["id"] + "a"]["amount"] == 9899 and mine[ok["id"] + "a"]["account_id"] == c.id
    told = [m for m in ses_messages(c.email) if "could not be applied" in m["subject"]]
    assert len(told) == 3, "the administrators are told (the event naming no account tells nobody)"
    assert deliver(lambdas, ok, T0).json()["status"] == "applied", "the right one still applies"
    assert lambdas.at(T0, "renewal", "GET", "/operator/unapplied-payments").status == 401


def test_unsigned_tampered_and_stale_webhooks_are_refused(lambdas):
    c = Customer(lambdas, T0)
    c.save_card(T0)
    ok = stripe_events(c.checkout(T0, "basic", 1).json()["payment_intent"], "payment_intent.succeeded")[0]
    raw = json.dumps(ok)
    from conftest import sign
    assert lambdas.at(T0, "renewal", "POST", "/billing/webhook", raw=raw).status == 400
    tampered = raw.replace('"amount": 4900', '"amount": 490')
    assert lambdas.at(T0, "renewal", "POST", "/billing/webhook", raw=tampered, headers=sign(raw, T0)).status == 400
    stale = lambdas.at(T0 + timedelta(seconds=301), "renewal", "POST", "/billing/webhook", raw=raw, headers=sign(raw, T0))
    assert stale.status == 400
    assert deliver(lambdas, ok, T0, secret="whsec_not_the_secret").status == 400
    late = lambdas.at(T0 + timedelta(seconds=300), "renewal", "POST", "/billing/webhook", raw=raw, headers=sign(raw, T0))
    assert late.status == 200 and late.json()["status"] == "applied"
    assert c.view(T0 + D)["plan"] == "basic"


def test_other_event_types_are_acknowledged_and_ignored(lambdas):
    r = deliver(lambdas, {"id": "evt_other", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}, T0)
    assert (r.status, r.json()["status"]) == (200, "ignored")


def test_auto_renewal_charges_the_plan_three_days_before_the_end_and_the_term_chains(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    end = utc(2027, 2, 28, 12, 0, 0)
    assert fresh.sweep(end - 3 * D - timedelta(seconds=1))["charges_made"] == 0
    out = fresh.sweep(end - 3 * D)
    assert (out["charges_requested"], out["charges_made"]) == (1, 1)
    charge = c.renewal()
    assert (charge["status"], charge["plan"], charge["amount"], charge["attempt"]) == ("created", "standard", 9900, "1")
    assert fresh.sweep(end - 2 * D)["charges_made"] == 0, "charged once"
    r = deliver_payment(fresh, charge["payment_intent"], end - 2 * D)
    assert r.json()["status"] == "applied"
    view = c.view(end + D)
    assert (view["state"], view["term_end"]) == ("active", "2027-03-28T12:00:00Z"), "no gap, no overlap"
    assert any("receipt" in m["subject"] for m in ses_messages(c.email))


def test_turning_auto_renewal_off_stops_the_charge_and_on_brings_it_back(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    end = utc(2027, 2, 28, 12, 0, 0)
    r = c.auto_renew(T0 + D, False)
    assert r.status == 200 and r.json()["auto_renew"] is False
    assert fresh.sweep(end - 3 * D)["charges_made"] == 0
    assert "renewal_charge" not in [e["kind"] for e in c.history(end - 3 * D)]
    assert c.auto_renew(end - 2 * D, True).json()["auto_renew"] is True
    assert fresh.sweep(end - 2 * D)["charges_made"] == 1
    assert [e["kind"] for e in c.history(end - 2 * D)].count("renewal_charge") == 1
    missing = fresh.at(end - 2 * D, "renewal", "PUT", f"/accounts/{c.id}/auto-renew", {}, headers=c.auth(end - 2 * D))
    assert missing.status == 400 and missing.json()["errors"][0]["field"] == "enabled"


def test_free_as_the_next_plan_is_never_charged(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    r = fresh.at(T0 + D, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "free"}, headers=c.auth(T0 + D))
    assert r.status == 200
    end = utc(2027, 2, 28, 12, 0, 0)
    assert fresh.sweep(end - 3 * D)["charges_made"] == 0
    assert any("will not be charged" in m["subject"] for m in ses_messages(c.email))
    fresh.sweep(end)
    assert c.view(end + D)["plan"] == "free"


def test_a_declined_renewal_is_retried_in_grace_and_a_later_success_restores_the_chain(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    c.save_card(T0 + D, CARD_DECLINED)  # the renewal card now declines
    end = utc(2027, 2, 28, 12, 0, 0)
    out = fresh.sweep(end - 3 * D)
    assert out["charges_declined"] == 1, out
    assert any("did not go through" in m["subject"] for m in ses_messages(c.email))
    fresh.sweep(end)
    assert c.state() == "grace"
    assert fresh.sweep(end + D - timedelta(seconds=1))["charges_declined"] == 0, "not before term end + 1 day"
    assert fresh.sweep(end + D)["charges_declined"] == 1, "attempt 2"
    c.save_card(end + 2 * D, CARD_OK)  # a working card before the third attempt
    out = fresh.sweep(end + 3 * D)
    assert out["charges_made"] == 1, out
    charge = c.renewal()
    assert charge["attempt"] == "3"
    r = deliver_payment(fresh, charge["payment_intent"], end + 3 * D)
    assert (r.json()["status"], r.json()["state"]) == ("applied", "active")
    view = c.view(end + 3 * D)
    assert view["term_end"] == "2027-03-28T12:00:00Z", "the new term starts at the old end: no gap"


def test_declines_run_out_of_retries_and_grace_ends_in_suspension(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    c.save_card(T0 + D, CARD_DECLINED)
    end = utc(2027, 2, 28, 12, 0, 0)
    declined = sum(fresh.sweep(at)["charges_declined"] for at in
                   (end - 3 * D, end + D, end + 3 * D, end + 7 * D, end + 14 * D))
    assert declined == 4, "the charge and three retries, never more"
    fresh.sweep(end + 15 * D)
    assert c.state() == "suspended" and c.raw()["state_reason"]["S"] == "not_renewed"


def test_turning_auto_renewal_off_during_grace_stops_the_remaining_retries(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    c.save_card(T0 + D, CARD_DECLINED)
    end = utc(2027, 2, 28, 12, 0, 0)
    fresh.sweep(end - 3 * D)
    fresh.sweep(end + D)
    assert c.auto_renew(end + 2 * D, False).status == 200
    assert c.renewal()["status"] == "withdrawn"
    assert sum(fresh.sweep(at)["charges_declined"] + fresh.sweep(at)["charges_made"] for at in (end + 3 * D, end + 7 * D)) == 0


def test_the_next_plan_must_be_free_or_cheaper_and_needs_a_paid_term(lambdas):
    c = Customer(lambdas, T0)
    r = lambdas.at(T0, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "free"}, headers=c.auth(T0))
    assert (r.status, r.json()["code"]) == (409, "no_paid_term")
    c.buy(T0, "standard", 1)
    r = lambdas.at(T0, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "enterprise"}, headers=c.auth(T0))
    assert r.status == 400 and r.json()["errors"][0]["field"] == "plan"
    r = lambdas.at(T0, "renewal", "PUT", f"/accounts/{c.id}/next-plan", {"plan": "basic"}, headers=c.auth(T0))
    assert r.status == 200 and r.json()["next_plan"] == "basic" and r.json()["chart"]["fits"] is True


def test_paying_on_the_last_moment_of_grace_continues_from_the_old_term_end(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    c.auto_renew(T0, False)
    end = utc(2027, 2, 28, 12, 0, 0)
    fresh.sweep(end + D)
    assert c.state() == "grace"
    r = c.buy(end + 15 * D - timedelta(seconds=1), "standard", 1)
    assert r.json()["state"] == "active"
    assert c.view(end + 15 * D)["term_end"] == "2027-03-28T12:00:00Z"


def test_paying_at_the_grace_end_restores_a_suspended_account_from_the_payment(fresh):
    c = Customer(fresh, T0)
    c.buy(T0, "standard", 1)
    c.auto_renew(T0, False)
    grace_end = utc(2027, 3, 15, 12, 0, 0)
    r = c.buy(grace_end, "standard", 1)  # no sweep ran: checkout and payment find it suspended
    assert r.json()["state"] == "active"
    assert c.view(grace_end)["term_end"] == "2027-04-15T12:00:00Z"
    kinds = [e["kind"] for e in c.history(grace_end)]
    after_grace = kinds[kinds.index("grace"):]
    assert after_grace.index("suspended") < after_grace.index("payment") < after_grace.index("active"), kinds


def test_a_payment_arriving_after_a_violation_suspension_is_unapplied(lambdas):
    c = Customer(lambdas, T0)
    c.save_card(T0)
    pi = c.checkout(T0, "standard", 1).json()["payment_intent"]
    r = lambdas.at(T0, "accounts", "POST", f"/accounts/{c.id}/suspension", {"note": "spam"}, headers=OPERATOR)
    assert r.status == 200 and r.json()["state_reason"] == "terms_violation"
    r = deliver_payment(lambdas, pi, T0 + D)
    assert (r.json()["status"], r.json()["state"]) == ("unapplied", "suspended")
    refused = c.checkout(T0 + D, "standard", 1)
    assert (refused.status, refused.json()["code"]) == (409, "not_eligible")


def test_an_unapplied_payment_survives_the_accounts_deletion(fresh):
    c = Customer(fresh, T0)
    c.save_card(T0)
    pi = c.checkout(T0, "standard", 1).json()["payment_intent"]
    r = fresh.at(T0, "accounts", "POST", f"/accounts/{c.id}/termination", {"confirm_domain": c.domain}, headers=c.auth(T0))
    assert r.status == 200
    assert deliver_payment(fresh, pi, T0 + D).json()["status"] == "unapplied"
    fresh.sweep(T0 + 31 * D)
    assert c.state() == "deleted"
    listed = fresh.at(T0 + 32 * D, "renewal", "GET", "/operator/unapplied-payments", headers=OPERATOR).json()["payments"]
    mine = [p for p in listed if p["payment_intent"] == pi]
    assert len(mine) == 1 and mine[0]["amount"] == 9900 and mine[0]["account_id"] == c.id
    assert set(mine[0]) == {"event_id", "payment_intent", "account_id", "amount", "currency", "reason", "at"}, \
        "no personal data"


# ------------------------------------------------------------------ upgrades (proration)

def test_an_upgrade_mid_term_charges_the_prorated_difference_and_applies_at_once(lambdas):
    c = Customer(lambdas, utc(2027, 12, 1, 12, 0, 0))
    c.buy(utc(2027, 12, 1, 12, 0, 0), "basic", 1)  # December 1 to January 1: 31 days
    mid = utc(2027, 12, 17, 0, 0, 0)  # 15.5 days left
    r = c.checkout(mid, "professional", 1)
    assert r.status == 201, r
    assert (r.json()["proration"], r.json()["amount"]) == (7500, 19900 + 7500)
    assert r.json()["term_start"] == "2028-01-01T12:00:00Z" and r.json()["applies_now"] is True
    w = deliver_payment(lambdas, r.json()["payment_intent"], mid)
    assert w.json()["status"] == "applied"
    view = c.view(mid)
    assert (view["plan"], view["term_end"]) == ("professional", "2028-02-01T12:00:00Z"), "exactly the month bought"
    assert (view["last_payment"]["amount"], view["last_payment"]["proration"]) == (27400, 7500)
    receipt = [m for m in ses_messages(c.email) if "receipt for 274.00 USD" in m["subject"]]
    assert len(receipt) == 1 and "prorated): 75.00 USD" in receipt[0]["body"]


def test_a_webhook_whose_amount_lacks_the_proration_is_unapplied(lambdas):
    c = Customer(lambdas, utc(2027, 12, 1, 12, 0, 0))
    c.buy(utc(2027, 12, 1, 12, 0, 0), "basic", 1)
    mid = utc(2027, 12, 17, 0, 0, 0)
    r = c.checkout(mid, "professional", 1)
    ok = stripe_events(r.json()["payment_intent"], "payment_intent.succeeded")[0]
    short = dict(ok, id=ok["id"] + "s", data={"object": dict(ok["data"]["object"], amount=19900)})
    assert deliver(lambdas, short, mid).json()["status"] == "unapplied"
    assert c.view(mid)["plan"] == "basic"
