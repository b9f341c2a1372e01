"""Built for strangers (SPEC: Public surface, Personal data, operator rows of the HTTP contract):
rate limits on every public write, hostile input refused at the edge, mail that cannot stall
anything, deletion that forgets, and the operator routes that undo or finish things."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from conftest import (OPERATOR, Customer, ddb, http_event, key, link_token, own_lambdas, ses_messages,
                      signup_body, unique, utc)
from race import Fleet

T0 = utc(2032, 3, 1, 9)
BASE_DOMAIN = "saas.local"
DEAD_SES = {"AWS_ENDPOINT_URL_SES": "http://127.0.0.1:9"}  # nothing listens: every send fails


def notice_body(location: str, **over) -> dict:
    body = {"signature": "/Jane Roe/", "work": "Photograph 'Sunrise'", "location": location,
            "contact_address": "1 Main St, Springfield", "contact_phone": "+1 555 010 9999",
            "contact_email": f"{unique('jane')}@rights.example.com", "good_faith": True, "perjury": True}
    body.update(over)
    return body


def data_request_body(domain: str, **over) -> dict:
    body = {"name": "Sam Doe", "email": f"{unique('sam')}@example.com", "domain": domain, "kind": "removal",
            "details": "Please remove my contact card."}
    body.update(over)
    return body


# ------------------------------------------------------------------ rate limits

@pytest.fixture(scope="module")
def limited(stack):
    """Functions with the default limits, except a few set low enough to reach in a test."""
    limits = {"data_request_per_recipient_per_hour": 2, "sign_in_per_ip_per_hour": 4, "resend_per_ip_per_hour": 1,
              "verify_per_ip_per_hour": 1}
    with own_lambdas("limited", {"RATE_LIMITS_JSON": json.dumps(limits)}) as fns:
        yield fns


def test_thirty_copyright_notices_from_one_ip_are_refused_after_the_limit_with_retry_after(limited):
    replies = [limited.at(T0, "submit-form", "POST", "/forms/copyright-notice", notice_body("elsewhere.example"))
               for _ in range(30)]
    assert [r.status for r in replies] == [201] * 10 + [429] * 20, "copyright_per_ip_per_hour defaults to 10"
    assert replies[10].json()["code"] == "rate_limited"
    assert int(replies[10].headers["retry-after"]) == 3600 - (T0.minute * 60 + T0.second), "until the hour ends"
    other = limited.at(T0, "submit-form", "POST", "/forms/copyright-notice", notice_body("elsewhere.example"),
                       source_ip="192.0.2.99")
    assert other.status == 201, "another source is not held back"


def test_data_requests_are_limited_per_recipient_whatever_the_source(limited):
    c = Customer(limited, T0)
    mine = f"{unique('victim')}@example.com"
    statuses = [limited.at(T0, "submit-form", "POST", "/forms/data-request", data_request_body(c.domain, email=mine),
                           source_ip=f"203.0.113.{i}").status for i in range(4)]
    assert statuses == [201, 201, 429, 429]
    assert len(ses_messages(mine)) == 2, "the address is not flooded"


def test_sign_ins_from_one_source_are_limited_over_all_addresses(limited):
    tries = [limited.at(T0, "accounts", "POST", "/sign-in",
                        {"domain": unique("d"), "email": f"{unique('x')}@example.org", "password": "guess"},
                        source_ip="198.51.100.200").status for _ in range(6)]
    assert tries == [401] * 4 + [429] * 2


def test_verification_links_are_limited_per_source(limited):
    a, b = Customer(limited, T0, verified=False), Customer(limited, T0, verified=False)
    ip = "198.51.100.201"
    first = limited.at(T0, "signup", "POST", "/signup/verify", {"token": link_token(a.email)}, source_ip=ip)
    second = limited.at(T0, "signup", "POST", "/signup/verify", {"token": link_token(b.email)}, source_ip=ip)
    assert (first.status, second.status) == (200, 429)
    elsewhere = limited.at(T0, "signup", "POST", "/signup/verify", {"token": link_token(b.email)},
                           source_ip="198.51.100.202")
    assert elsewhere.status == 200


# ------------------------------------------------------------------ hostile input at the edge

def test_a_name_with_cr_lf_is_refused_so_no_header_can_be_injected(lambdas):
    body = {"first_name": "Ada\r\nBcc: victim@example.com", "last_name": "Lovelace",
            "email": f"{unique('ada')}@example.com", "phone": "+1 555 010 2030", "country": "US",
            "region": "Boston", "product": "cloud", "request": "Hi\nthere", "privacy": "I accept"}
    r = lambdas.at(T0, "submit-form", "POST", "/forms/implementation-request", body)
    assert r.status == 400, r
    assert [e["field"] for e in r.json()["errors"]] == ["first_name"], "multi-line text stays allowed where it is text"
    s = lambdas.at(T0, "signup", "POST", "/signup", signup_body(unique("crlf"), f"{unique('c')}@example.org",
                                                                 company="Acme\rLtd"))
    assert s.status == 400 and [e["field"] for e in s.json()["errors"]] == ["company"]


def test_a_non_ascii_address_is_refused_because_ses_accepts_none(lambdas):
    r = lambdas.at(T0, "signup", "POST", "/signup", signup_body(unique("jose"), "josé@example.com"))
    assert r.status == 400
    assert {e["field"]: e["message"] for e in r.json()["errors"]} == {"email": "must be an e-mail address"}


def test_a_form_encoded_signup_is_415_and_a_100_kib_body_is_413(lambdas):
    form = lambdas.at(T0, "signup", "POST", "/signup", raw="company=Acme&domain=x",
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert (form.status, form.json()["code"]) == (415, "unsupported_media_type")
    charset = lambdas.at(T0, "signup", "GET", f"/signup/domains/{unique('ok')}",
                         headers={"content-type": "application/json; charset=utf-8"})
    assert charset.status == 200
    big = json.dumps(notice_body("elsewhere.example", work="x" * 100 * 1024))
    r = lambdas.at(T0, "submit-form", "POST", "/forms/copyright-notice", raw=big)
    assert (r.status, r.json()["code"]) == (413, "payload_too_large")
    # The public forms still take their own form posts.
    fields = "&".join(f"{k}={v}" for k, v in {"name": "Sam", "email": "sam@example.com", "domain": "x"}.items())
    posted = lambdas.at(T0, "submit-form", "POST", "/forms/data-request", raw=fields,
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert posted.status == 400, "parsed and checked, not 415"


def test_a_filled_honeypot_on_the_notice_and_data_request_forms_pretends_success_and_sends_nothing(lambdas):
    c = Customer(lambdas, T0)
    before = len(ses_messages(c.email))
    notice = notice_body(c.domain, website="http://spam.example")
    r = lambdas.at(T0, "submit-form", "POST", "/forms/copyright-notice", notice)
    assert r.status == 201 and ddb().get_item(TableName=lambdas.table, Key=key("copyright", id=r.json()["notice_id"])).get("Item") is None
    req = data_request_body(c.domain, website="http://spam.example")
    assert lambdas.at(T0, "submit-form", "POST", "/forms/data-request", req).status == 201
    assert ses_messages(notice["contact_email"]) == [] and ses_messages(req["email"]) == []
    assert len(ses_messages(c.email)) == before


def test_html_pages_carry_a_content_security_policy_and_refuse_framing(api):
    r = requests.get(f"{api}/submit-form/forms/implementation-request", timeout=120)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"


# ------------------------------------------------------------------ mail that cannot stall anything

def test_mail_ses_keeps_refusing_is_set_aside_and_listed_for_operators(lambdas):
    c = Customer(lambdas, T0)
    with Fleet("submit-form", 1, lambdas.table, dict(DEAD_SES, MAIL_MAX_ATTEMPTS="1")) as forms:
        out = forms.procs[0].invoke(http_event(T0, "POST", "/forms/data-request", data_request_body(c.domain)))
    assert out.payload["statusCode"] == 201, out.payload
    request_id = json.loads(out.payload["body"])["request_id"]
    r = lambdas.at(T0, "accounts", "GET", "/operator/failed-mail", headers=OPERATOR)
    assert r.status == 200, r
    mine = [m for m in r.json()["mails"] if request_id in m["key"]]
    assert {m["key"].rsplit("#", 1)[1] for m in mine} == {"account", "ack"}, mine
    assert all(m["attempts"] == 1 and m["last_error"] for m in mine)
    assert lambdas.at(T0, "accounts", "GET", "/operator/failed-mail").status == 401


# ------------------------------------------------------------------ operators undo and finish things

def test_an_operator_lifts_a_violation_suspension_and_service_returns(lambdas):
    c = Customer(lambdas, T0)
    r = lambdas.at(T0, "accounts", "POST", f"/accounts/{c.id}/suspension", {"note": "spam"}, headers=OPERATOR)
    assert r.json()["state_reason"] == "terms_violation", r
    [notice] = [m for m in ses_messages(c.email) if m["subject"].endswith("your account is suspended")]
    assert "violation of the Terms of Service" in notice["body"] and "does not lift" in notice["body"]
    assert "TermsViolation" not in notice["body"]
    assert c.sign_in(T0 + timedelta(hours=1)).json()["state"] == "suspended"
    later = T0 + timedelta(days=2)
    lifted = lambdas.at(later, "accounts", "DELETE", f"/accounts/{c.id}/suspension", headers=OPERATOR)
    assert (lifted.status, lifted.json()["state"], lifted.json()["state_reason"]) == (200, "active", None), lifted
    assert c.sign_in(later).status == 200
    assert any("active again" in m["subject"] for m in ses_messages(c.email))
    again = lambdas.at(later, "accounts", "DELETE", f"/accounts/{c.id}/suspension", headers=OPERATOR)
    assert (again.status, again.json()["code"]) == (409, "not_suspended_for_violation")


def test_answering_a_data_request_stops_its_reminders(fresh):
    c = Customer(fresh, T0)
    other = Customer(fresh, T0)
    r = fresh.at(T0, "submit-form", "POST", "/forms/data-request", data_request_body(c.domain))
    rid = r.json()["request_id"]
    path = f"/forms/data-request/{rid}/answer"
    assert fresh.at(T0, "submit-form", "POST", path, headers=other.auth(T0)).status == 403
    answered = fresh.at(T0 + timedelta(days=1), "submit-form", "POST", path, headers=c.auth(T0 + timedelta(days=1)))
    assert answered.status == 200, answered
    at = answered.json()["answered_at"]
    by_operator = fresh.at(T0 + timedelta(days=2), "submit-form", "POST", path, headers=OPERATOR)
    assert by_operator.json()["answered_at"] == at, "answered once"
    for day in (24, 29, 31):
        fresh.sweep(T0 + timedelta(days=day))
    subjects = [m["subject"] for m in ses_messages(c.email)]
    assert not [s for s in subjects if " due in " in s or "overdue" in s], subjects


def test_the_administrator_downloads_all_the_account_data_without_password_hashes(lambdas):
    c = Customer(lambdas, T0, first_name="Grace", last_name="Hopper")
    r = lambdas.at(T0, "accounts", "GET", f"/accounts/{c.id}/export", headers=c.auth(T0))
    assert r.status == 200, r
    data = r.json()
    assert data["account"]["domain"] == c.domain
    assert [(u["email"], u["first_name"], u["last_name"]) for u in data["administrators"]] == [(c.email, "Grace", "Hopper")]
    assert data["terms_acceptance"]["kind"] == "terms_accepted"
    assert data["terms_acceptance"]["detail"]["terms_version"] == "2021-11-01"
    assert any(h["kind"] == "email_verified" for h in data["history"])
    assert "password" not in r.text and "$argon2" not in r.text
    stranger = Customer(lambdas, T0)
    assert lambdas.at(T0, "accounts", "GET", f"/accounts/{c.id}/export", headers=stranger.auth(T0)).status == 403


# ------------------------------------------------------------------ deletion forgets

def scan(table: str) -> list[dict]:
    items, start = [], None
    while True:
        page = ddb().scan(TableName=table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def test_after_deletion_a_scan_of_the_whole_table_finds_none_of_its_people(fresh):
    first, last = unique("Firstname"), unique("Lastname")
    c = Customer(fresh, T0, first_name=first, last_name=last)
    fresh.at(T0, "accounts", "POST", "/sign-in/password-reset", {"domain": c.domain, "email": c.email})
    # A data request and a copyright notice about the account, forwarded while SES is down:
    # their mail to its administrators waits unsent in the outbox.
    with Fleet("submit-form", 1, fresh.table, DEAD_SES) as forms:
        for path, body in (("/forms/data-request", data_request_body(c.domain)),
                           ("/forms/copyright-notice", notice_body(f"https://{c.domain}.{BASE_DOMAIN}/x"))):
            out = forms.procs[0].invoke(http_event(T0, "POST", path, body))
            assert out.payload["statusCode"] == 201, out.payload
    assert any(c.email in json.dumps(i) and i.get("entity", {}).get("S") == "outbox" for i in scan(fresh.table))
    r = fresh.at(T0, "accounts", "POST", f"/accounts/{c.id}/termination", {"confirm_domain": c.domain},
                 headers=c.auth(T0))
    assert r.status == 200, r
    fresh.sweep(T0 + timedelta(days=31))
    assert c.state() == "deleted"
    left = scan(fresh.table)
    for needle in (c.email, first, last):
        holders = [i for i in left if needle in json.dumps(i)]
        assert holders == [], f"{needle} is still in {holders}"
    naming = [i for i in left if c.id in json.dumps(i)]
    assert [i["entity"]["S"] for i in naming] == ["tombstone"], naming
