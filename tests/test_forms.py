"""The public forms end to end: `cargo lambda watch` on DynamoDB Local, mail read back from the SES
emulator. Tests that count per-hour limits or partner rotation pick their own event hour (through
`lambdas.at`) and their own country, so they do not see each other's traffic."""

import os
import re
from datetime import timedelta
from urllib.parse import urlencode, urljoin

import requests

from conftest import Customer, ddb, key, pk_stem, ses_messages, unique, utc

OPERATOR = {"x-operator-key": os.environ["OPERATOR_KEY"]}
BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "saas.local")
FORM = "/forms/implementation-request"
REQUIRED = "Field is required"
SENT = "Request has been sent!"
DISABLED = "The form is disabled"


def hour(k: int):
    """An event hour of this test's own (rate-limit counters are per hour)."""
    return utc(2031, 1, 1) + timedelta(hours=k)


def request_body(**over) -> dict:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": f"{unique('ada')}@example.com",
            "phone": "+1 555 010 2030", "country": "US", "region": "Boston, MA", "product": "cloud",
            "request": "A CRM for 40 people", "privacy": "I accept"}
    body.update(over)
    return body


def submit(lambdas, when, body, headers=None):
    return lambdas.at(when, "submit-form", "POST", FORM, body, headers=headers)


def add_partner(lambdas, pid, countries, products=(), certified=True):
    body = {"id": pid, "name": f"Partner {pid}", "email": f"leads-{pid}@partners.example.com",
            "countries": list(countries), "products": list(products), "certified": certified}
    r = lambdas.at(hour(0), "submit-form", "POST", "/partners", body, headers=OPERATOR)
    assert r.status == 201, r
    return body["email"]


def item(table, k):
    """The item at key `k` (from conftest's `key`), or None."""
    return ddb().get_item(TableName=table, Key=k, ConsistentRead=True).get("Item")


# ------------------------------------------------------------------ the page and its posts

def test_the_page_is_served_as_html_with_every_field_of_the_seed_form(api):
    r = requests.get(f"{api}/submit-form{FORM}", timeout=120)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for label in ["First Name *", "Last Name *", "Your Email *", "Your Phone Number *", "Your Country *",
                  "City / State / Region *", "Product version or services required *", "Implementation Request *"]:
        assert f">{label}</label>" in r.text, label
    assert 'value="I accept"' in r.text and 'value="I don&#39;t accept"' in r.text
    assert "<legend>I acknowledge that I have read and understood Bitrix24 Privacy Policy" in r.text
    assert '<html lang="en">' in r.text and 'name="website"' in r.text and "<script" not in r.text


def test_a_form_post_with_a_missing_field_shows_the_error_beside_it_and_keeps_the_values(api):
    url = f"{api}/submit-form{FORM}"
    data = request_body(first_name="<b>Ada</b>", last_name="")
    r = requests.post(url, data=data, timeout=120)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert f'aria-describedby="f-last_name-error">\n<p class="error" id="f-last_name-error">{REQUIRED}</p>' in r.text
    assert r.text.count(REQUIRED) == 2, "beside the field and in the summary, for last_name only"
    assert 'value="&lt;b&gt;Ada&lt;/b&gt;"' in r.text and "<b>Ada" not in r.text
    assert f'value="{data["email"]}"' in r.text
    assert ses_messages(data["email"]) == []


def test_a_complete_form_post_says_sent_and_its_resend_button_resends_the_confirmation(api):
    url = f"{api}/submit-form{FORM}"
    data = request_body()
    r = requests.post(url, data=data, timeout=120)
    assert r.status_code == 201, r.text
    assert SENT in r.text
    action = re.search(r'<form method="post" action="([^"]+)">', r.text).group(1)
    assert re.fullmatch(r"implementation-request/[0-9a-f-]{36}/resend", action), action
    resend_url = urljoin(url, action)
    assert resend_url.startswith(url + "/")
    # As a browser posts a form without fields: an empty form-encoded body.
    r = requests.post(resend_url, data="", headers={"content-type": "application/x-www-form-urlencoded"}, timeout=120)
    assert r.status_code == 202, r.text
    assert SENT in r.text and ">Resend</button>" in r.text
    # The resend page's own button posts to itself.
    assert urljoin(resend_url, re.search(r'action="([^"]+)"', r.text).group(1)) == resend_url
    subjects = sorted(m["subject"] for m in ses_messages(data["email"]))
    assert subjects == ["(Resent) Your Bitrix24 implementation request", "Your Bitrix24 implementation request"]


# ------------------------------------------------------------------ JSON posts: field rules

def test_every_missing_field_is_required_by_name(api):
    r = requests.post(f"{api}/submit-form{FORM}", json={}, timeout=120)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["first_name", "last_name", "email", "phone", "country", "region",
                                            "product", "request", "privacy"]
    assert {e["message"] for e in errors} == {REQUIRED}


def test_i_dont_accept_and_a_bad_email_are_refused_on_their_fields(api):
    r = requests.post(f"{api}/submit-form{FORM}", json=request_body(privacy="I don't accept", email="ada@"),
                      timeout=120)
    assert r.status_code == 400
    assert {e["field"]: e["message"] for e in r.json()["errors"]} == {
        "email": "must be an e-mail address",
        "privacy": "You must accept to be contacted by partners to send the request"}


def test_embargoed_countries_and_crimea_are_refused_with_451(api):
    for over in ({"country": "CU"}, {"country": "UA", "region": "Sevastopol"}):
        body = request_body(**over)
        r = requests.post(f"{api}/submit-form{FORM}", json=body, timeout=120)
        assert r.status_code == 451, r.text
        assert r.json()["code"] == "embargoed"
        assert ses_messages(body["email"]) == []


def test_a_filled_honeypot_pretends_success_and_sends_nothing(lambdas):
    body = request_body(website="http://spam.example")
    r = submit(lambdas, hour(1), body)
    assert r.status == 201 and r.json()["partners"] == []
    assert item(lambdas.table, key("form", id=r.json()["request_id"])) is None
    assert ses_messages(body["email"]) == []


# ------------------------------------------------------------------ routing, fairness, mail

def test_each_partner_and_the_requester_receive_their_mail(lambdas):
    run = unique("")
    a = add_partner(lambdas, f"za-{run}-a", ["ZA"])
    b = add_partner(lambdas, f"za-{run}-b", ["ZA"], products=["cloud"])
    body = request_body(country="ZA", region="Cape Town")
    r = submit(lambdas, hour(2), body)
    assert r.status == 201, r
    rid = r.json()["request_id"]
    assert r.json()["partners"] == [f"za-{run}-a", f"za-{run}-b"]
    for addr in (a, b):
        [lead] = ses_messages(addr)
        assert body["email"] in lead["body"] and body["phone"] in lead["body"] and rid in lead["body"]
        assert lead["subject"] == "Bitrix24 implementation request from Ada Lovelace (ZA)"
    [confirmation] = ses_messages(body["email"])
    assert SENT in confirmation["body"]
    assert f"Partner za-{run}-a" in confirmation["body"] and f"Partner za-{run}-b" in confirmation["body"]
    stored = item(lambdas.table, key("form", id=rid))
    assert stored["country"]["S"] == "ZA" and stored["resends"]["N"] == "0"
    for mail in ("lead#" + f"za-{run}-a", "lead#" + f"za-{run}-b", "confirmation"):
        out = item(lambdas.table, key("outbox", key=f"form#{rid}#{mail}"))
        assert out["status"]["S"] == "sent" and "DueAt" not in out, mail


def test_leads_go_to_at_most_five_partners_least_recently_sent_first_in_rotation(lambdas):
    run = unique("")
    ids = [f"nz-{run}-{c}" for c in "abcdef"]
    emails = {pid: add_partner(lambdas, pid, ["NZ"]) for pid in ids}
    on_prem = add_partner(lambdas, f"nz-{run}-onprem", ["NZ"], products=["on-premise"])
    uncertified = add_partner(lambdas, f"nz-{run}-uncert", ["NZ"], certified=False)

    rounds = []
    for i in range(6):
        r = submit(lambdas, hour(3) + timedelta(seconds=i), request_body(country="NZ", region="Auckland"))
        assert r.status == 201, r
        rounds.append(r.json()["partners"])

    assert rounds[0] == ids[:5]
    assert rounds[1] == ids[5:] + ids[:4]
    assert rounds[2] == ids[4:] + ids[:3]
    assert all(len(r) == 5 and len(set(r)) == 5 for r in rounds)
    # 6 requests x 5 leads over 6 partners: exactly 5 leads each, by mail.
    assert {pid: len(ses_messages(e)) for pid, e in emails.items()} == {pid: 5 for pid in ids}
    assert ses_messages(on_prem) == [] and ses_messages(uncertified) == []

    r = submit(lambdas, hour(3) + timedelta(seconds=10), request_body(country="NZ", region="Auckland",
                                                                        product="on-premise"))
    assert r.json()["partners"][0] == f"nz-{run}-onprem" and len(r.json()["partners"]) == 5


# ------------------------------------------------------------------ limits

def test_a_sender_over_five_requests_an_hour_is_told_the_form_is_disabled(lambdas):
    email = f"{unique('busy')}@example.com"
    for i in range(5):
        r = submit(lambdas, hour(5) + timedelta(minutes=i), request_body(email=email, country="IS"))
        assert r.status == 201, (i, r)
    r = submit(lambdas, hour(5) + timedelta(minutes=10), request_body(email=email, country="IS"))
    assert r.status == 429 and r.json()["detail"] == DISABLED and r.json()["code"] == "rate_limited"
    form = lambdas.at(hour(5) + timedelta(minutes=11), "submit-form", "POST", FORM,
                      raw=urlencode(request_body(email=email, country="IS")),
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status == 429 and DISABLED in form.text and form.headers["content-type"].startswith("text/html")
    assert len(ses_messages(email)) == 5
    # The next hour is a new count.
    assert submit(lambdas, hour(6), request_body(email=email, country="IS")).status == 201


def test_one_source_ip_is_limited_to_twenty_requests_an_hour(lambdas):
    for i in range(20):
        r = submit(lambdas, hour(7), request_body(country="IS"))
        assert r.status == 201, (i, r)
    body = request_body(country="IS")
    r = submit(lambdas, hour(7), body)
    assert r.status == 429 and r.json()["detail"] == DISABLED
    assert ses_messages(body["email"]) == []


def test_the_confirmation_is_resent_three_times_at_most(api):
    body = request_body(country="IS")
    rid = requests.post(f"{api}/submit-form{FORM}", json=body, timeout=120).json()["request_id"]
    for n in (1, 2, 3):
        r = requests.post(f"{api}/submit-form{FORM}/{rid}/resend", timeout=120)
        assert r.status_code == 202 and r.json()["resends"] == n, r.text
    r = requests.post(f"{api}/submit-form{FORM}/{rid}/resend", timeout=120)
    assert r.status_code == 429 and r.json()["code"] == "resend_limit"
    subjects = [m["subject"] for m in ses_messages(body["email"])]
    assert sorted(subjects) == ["(Resent) Your Bitrix24 implementation request"] * 3 + ["Your Bitrix24 implementation request"]
    r = requests.post(f"{api}/submit-form{FORM}/00000000-0000-4000-8000-000000000000/resend", timeout=120)
    assert r.status_code == 404


def test_a_retried_post_with_an_idempotency_key_is_answered_once(lambdas):
    body = request_body(country="IS")
    idem = {"idempotency-key": unique("k-")}
    first = submit(lambdas, hour(8), body, headers=idem)
    again = submit(lambdas, hour(8) + timedelta(seconds=5), body, headers=idem)
    assert first.status == again.status == 201
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"
    assert len(ses_messages(body["email"])) == 1
    other = submit(lambdas, hour(8), request_body(country="IS"), headers=idem)
    assert other.status == 422 and other.json()["code"] == "idempotency_key_reused"


def test_an_operator_can_disable_the_form(fresh):
    def settings(disabled, headers=OPERATOR):
        return fresh.at(hour(9), "submit-form", "PUT", f"{FORM}/settings", {"disabled": disabled}, headers=headers)

    assert settings(True, headers={}).status == 401
    assert settings(True).status == 200
    page = fresh.at(hour(9), "submit-form", "GET", FORM)
    assert page.status == 503 and DISABLED in page.text and "<form" not in page.text
    body = request_body()
    r = submit(fresh, hour(9), body)
    assert r.status == 503 and r.json()["detail"] == DISABLED
    assert ses_messages(body["email"]) == []
    assert settings(False).status == 200
    assert fresh.at(hour(9), "submit-form", "GET", FORM).status == 200
    assert submit(fresh, hour(9), body).status == 201


def test_partners_are_added_by_an_operator_only_once(lambdas):
    body = {"id": unique("p-"), "name": "Kiwi CRM", "email": "k@kiwi.example.com", "countries": ["NZ"]}
    assert lambdas.at(hour(0), "submit-form", "POST", "/partners", body).status == 401
    assert lambdas.at(hour(0), "submit-form", "POST", "/partners", body, headers=OPERATOR).status == 201
    assert lambdas.at(hour(0), "submit-form", "POST", "/partners", body, headers=OPERATOR).status == 409
    bad = lambdas.at(hour(0), "submit-form", "POST", "/partners", {"id": "x"}, headers=OPERATOR)
    assert bad.status == 400 and {e["field"] for e in bad.json()["errors"]} == {"name", "email", "countries"}
    stored = item(lambdas.table, key("partner", id=body["id"]))
    assert stored["last_sent_at"]["N"] == "0" and stored["certified"]["BOOL"] is True


# ------------------------------------------------------------------ copyright notices (§15)

def notice_body(location: str, **over) -> dict:
    body = {"signature": "/Jane Roe/", "work": "Photograph 'Sunrise over Table Mountain'",
            "location": location, "contact_address": "1 Main St, Springfield", "contact_phone": "+1 555 010 9999",
            "contact_email": f"{unique('jane')}@rights.example.com", "good_faith": True, "perjury": True}
    body.update(over)
    return body


def test_a_copyright_notice_needs_all_six_elements(api):
    r = requests.post(f"{api}/submit-form/forms/copyright-notice", json={"good_faith": False}, timeout=120)
    assert r.status_code == 400
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {"signature", "work", "location", "contact_address", "contact_phone", "contact_email",
                           "good_faith", "perjury"}
    assert errors["perjury"] == REQUIRED and errors["good_faith"].startswith("must be true")


def test_a_notice_is_acknowledged_forwarded_and_two_removals_make_a_repeat_infringer(lambdas):
    when = hour(12)
    c = Customer(lambdas, when)
    before = c.raw()
    url = "/forms/copyright-notice"
    first = notice_body(f"https://{c.domain}.{BASE_DOMAIN}/files/sunrise.jpg")
    r = lambdas.at(when, "submit-form", "POST", url, first)
    assert r.status == 201 and r.json()["account"] == c.domain, r
    n1 = r.json()["notice_id"]
    [ack] = ses_messages(first["contact_email"])
    assert n1 in ack["subject"]
    forwarded = [m for m in ses_messages(c.email) if "copyright" in m["subject"]]
    assert len(forwarded) == 1 and "sunrise.jpg" in forwarded[0]["body"]

    def outcome(nid, removal, headers=OPERATOR):
        return lambdas.at(when, "submit-form", "POST", f"{url}/{nid}/outcome", {"permanent_removal": removal},
                          headers=headers)

    assert outcome(n1, True, headers={}).status == 401
    r = outcome(n1, True)
    assert r.status == 200 and r.json()["repeat_infringer"] is False, r
    assert outcome(n1, True).json()["repeat_infringer"] is False, "the same notice counts once"
    assert outcome(n1, False).status == 409

    r = lambdas.at(when, "submit-form", "POST", url, notice_body(c.domain))
    n2 = r.json()["notice_id"]
    r = outcome(n2, True)
    assert r.status == 200 and r.json()["repeat_infringer"] is True, r
    meta = c.raw()
    assert meta["repeat_infringer"]["BOOL"] is True and meta["copyright_removals"]["N"] == "2"
    assert int(meta["version"]["N"]) > int(before["version"]["N"]), "a writer holding an older read must lose its condition"
    assert outcome(unique("x"), True).status == 404


def test_a_notice_naming_no_account_is_still_recorded_and_acknowledged(lambdas):
    body = notice_body("https://elsewhere.example.org/page")
    r = lambdas.at(hour(13), "submit-form", "POST", "/forms/copyright-notice", body)
    assert r.status == 201 and r.json()["account"] is None
    assert item(lambdas.table, key("copyright", id=r.json()["notice_id"])) is not None
    assert len(ses_messages(body["contact_email"])) == 1


# ------------------------------------------------------------------ personal data requests

def test_a_data_request_goes_to_the_administrators_with_a_thirty_day_deadline(lambdas):
    when = hour(14)
    c = Customer(lambdas, when)
    body = {"name": "Sam Doe", "email": f"{unique('sam')}@example.com", "domain": c.domain, "kind": "removal",
            "details": "Please remove my contact card."}
    r = lambdas.at(when, "submit-form", "POST", "/forms/data-request", body)
    assert r.status == 201, r
    by = when + timedelta(days=30)
    assert r.json()["respond_by"] == by.strftime("%Y-%m-%dT%H:%M:%SZ")
    stored = item(lambdas.table, key("data_request", id=r.json()["request_id"]))
    assert stored["DueAt"]["N"] == str(int((by - timedelta(days=7)).timestamp()))
    assert stored["DuePK"]["S"].startswith(pk_stem("due")) and stored["account_id"]["S"] == c.id
    [forwarded] = [m for m in ses_messages(c.email) if "personal data" in m["subject"]]
    assert "removal" in forwarded["subject"] and body["email"] in forwarded["body"]
    assert len(ses_messages(body["email"])) == 1


def test_a_data_request_for_an_unknown_domain_or_with_missing_fields_is_refused(lambdas):
    body = {"name": "Sam", "email": "sam@example.com", "domain": unique("nobody"), "kind": "access",
            "details": "What do you hold about me?"}
    r = lambdas.at(hour(15), "submit-form", "POST", "/forms/data-request", body)
    assert r.status == 404 and r.json()["code"] == "unknown_account"
    r = lambdas.at(hour(15), "submit-form", "POST", "/forms/data-request", {"kind": "delete"})
    assert r.status == 400
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert errors == {"name": REQUIRED, "email": REQUIRED, "domain": REQUIRED, "details": REQUIRED,
                      "kind": "must be one of: access, correction, removal"}
