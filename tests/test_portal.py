"""The portal's pages over HTTP (SPEC: The portal (web)): cookies and their flags, CSRF, the
sign-in redirect, escaping, field errors, and each page running the same rules as the JSON
routes (verify, sign-in/out, reset, auto-renewal and the forecast, termination, export)."""

import re
from datetime import datetime, timezone

import pytest
import requests

from conftest import Customer, link_token, unique
from portal_helpers import csrf, deliver_checkout, portal

PASSWORD = "correct horse battery"


def now():
    return datetime.now(timezone.utc)


def cookie_headers(r) -> list[str]:
    return r.raw.headers.getlist("Set-Cookie") if hasattr(r.raw.headers, "getlist") else [r.headers["set-cookie"]]


def fresh_session() -> requests.Session:
    return requests.Session()


def get(s, api, page, **kw):
    return s.get(portal(api, page), allow_redirects=False, timeout=60, **kw)


def post(s, api, page, data, token=None, **kw):
    """A form post carrying the CSRF token of the page it came from (fetched first if not given)."""
    if token is None:
        token = csrf(get(s, api, page.split("?")[0]).text)
    return s.post(portal(api, page), data={**data, "csrf": token}, allow_redirects=False, timeout=120, **kw)


def signup_form(domain, email, **over):
    form = {"action": "create", "company": "Acme Ltd", "domain": domain, "first_name": "Ann", "last_name": "Lee",
            "email": email, "password": PASSWORD, "country": "DE", "accept_terms": "true", "legal_age": "true"}
    form.update(over)
    return form


def signed_up_and_in(api, verify=True):
    """A new account made through the portal's pages, and a session signed in to it."""
    s = fresh_session()
    domain, email = unique("p"), f"{unique('admin')}@example.org"
    r = post(s, api, "signup", signup_form(domain, email))
    assert r.status_code == 303 and r.headers["location"].endswith("/app/sign-in?done=signed-up"), r.text
    if verify:
        token = link_token(email)
        page = get(s, api, f"verify?token={token}")
        assert page.status_code == 200 and "Verify my address" in page.text
        r = post(s, api, "verify", {"token": token}, token=csrf(page.text))
        assert r.status_code == 303 and r.headers["location"].endswith("/app/sign-in?done=verified"), r.text
    r = post(s, api, "sign-in", {"domain": domain, "email": email, "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"].endswith("/app/account"), r.text
    return s, domain, email


def test_pages_send_the_security_headers_and_a_policy_that_allows_only_stripe(api):
    r = get(fresh_session(), api, "sign-in")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["script-src"] == ["'self'", "http://127.0.0.1:8420"], "Stripe.js's origin, no inline script"
    assert directives["frame-src"] == ["http://127.0.0.1:8420"] and directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["form-action"] == ["'self'"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in r.text, "the pages without a card field carry no script"


def test_the_anonymous_csrf_cookie_is_httponly_lax_and_secure_except_on_loopback(api):
    r = get(fresh_session(), api, "sign-in")
    cookie = r.headers["set-cookie"]
    assert re.match(r"csrf=[0-9a-f]{32}; HttpOnly; SameSite=Lax; Path=/lambda-url/portal/app; Max-Age=\d+$", cookie)
    r = get(fresh_session(), api, "sign-in", headers={"Host": "portal.example.com"})
    assert "; HttpOnly; Secure; SameSite=Lax; " in r.headers["set-cookie"]


def test_a_post_without_a_valid_csrf_token_is_refused_with_403(api):
    s = fresh_session()
    page = get(s, api, "sign-in")
    token = csrf(page.text)
    form = {"domain": "nobody", "email": "nobody@example.org", "password": PASSWORD}
    for bad in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": token[:-1] + ("0" if token[-1] != "0" else "1")}):
        r = s.post(portal(api, "sign-in"), data={**form, **bad}, allow_redirects=False, timeout=60)
        assert r.status_code == 403, (bad, r.text)
        assert "did not come from this site" in r.text
    # A token is bound to its own cookie: another browser's token is refused here.
    other = csrf(get(fresh_session(), api, "sign-in").text)
    assert s.post(portal(api, "sign-in"), data={**form, "csrf": other}, allow_redirects=False).status_code == 403
    # And the good one passes the check (the sign-in itself then fails: 401 on the page).
    r = s.post(portal(api, "sign-in"), data={**form, "csrf": token}, allow_redirects=False, timeout=60)
    assert r.status_code == 401 and "not right" in r.text


@pytest.mark.parametrize("page", ["account", "plans", "card", "terminate", "export"])
def test_a_page_that_needs_a_session_redirects_to_sign_in_without_one(api, page):
    r = get(fresh_session(), api, page)
    assert r.status_code == 303 and r.headers["location"] == "/lambda-url/portal/app/sign-in"
    forged = requests.Session()
    forged.cookies.set("session", "eyJhbGciOiJIUzI1NiJ9.e30.forged", path="/lambda-url/portal/app")
    r = get(forged, api, page)
    assert r.status_code == 303 and r.headers["location"].endswith("/app/sign-in")
    assert "session=; " in r.headers["set-cookie"], "a bad session cookie is cleared"


def test_signup_shows_each_error_beside_its_field_and_escapes_what_was_typed(api):
    s = fresh_session()
    hostile = '<script>alert("x")</script>'
    r = post(s, api, "signup", signup_form(unique("p"), "not-an-address", company=hostile, password="", legal_age="false"))
    assert r.status_code == 400
    assert hostile not in r.text and 'value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in r.text
    for field in ("email", "password", "legal_age"):
        assert f'aria-describedby="f-{field}-error"' in r.text and f'id="f-{field}-error"' in r.text, field
    assert 'id="f-company-error"' not in r.text
    assert "<title>Error: 3 fields to check - Sign up</title>" in r.text
    assert 'role="alert"' in r.text, "the summary is announced"


def test_the_domain_check_says_available_or_taken_without_javascript(api):
    s, domain, _ = signed_up_and_in(api, verify=False)
    other = fresh_session()
    r = post(other, api, "signup", {"action": "check", "domain": domain})
    assert r.status_code == 200 and f"{domain} is taken" in r.text
    free = unique("free")
    r = post(other, api, "signup", {"action": "check", "domain": free})
    assert r.status_code == 200 and f"<strong>{free}</strong> is available" in r.text
    r = post(other, api, "signup", {"action": "check", "domain": "ww"})
    assert r.status_code == 400 and 'id="f-domain-error"' in r.text
    # Signing up with the taken domain shows the conflict beside the domain field.
    r = post(other, api, "signup", signup_form(domain, f"{unique('x')}@example.org"))
    assert r.status_code == 409 and 'id="f-domain-error">is already taken' in r.text


def test_a_used_or_unknown_verification_link_is_refused_on_the_page(api):
    s = fresh_session()
    page = get(s, api, "verify?token=" + "ab" * 32)
    r = post(s, api, "verify", {"token": "ab" * 32}, token=csrf(page.text))
    assert r.status_code == 400 and "This link is not a valid, unused and unexpired verification link" in r.text


def test_sign_in_sets_the_session_cookie_and_sign_out_revokes_the_token(api):
    s = fresh_session()
    domain, email = unique("p"), f"{unique('admin')}@example.org"
    assert post(s, api, "signup", signup_form(domain, email)).status_code == 303
    r = post(s, api, "sign-in", {"domain": domain, "email": email, "password": PASSWORD})
    assert r.status_code == 303
    session_cookie = [c for c in cookie_headers(r) if c.startswith("session=")][0]
    assert re.match(r"session=[\w-]+\.[\w-]+\.[\w-]+; HttpOnly; SameSite=Lax; Path=/lambda-url/portal/app; Max-Age=3600$",
                    session_cookie), session_cookie
    token = session_cookie.split(";")[0].split("=", 1)[1]
    account = get(s, api, "account")
    assert account.status_code == 200 and f"Account {domain}" in account.text
    assert account.headers["cache-control"] == "no-store"
    account_id = re.search(r'"sub":"(\w+)"', __import__("base64").urlsafe_b64decode(token.split(".")[1] + "==").decode()).group(1)
    api_view = requests.get(f"{api}/accounts/accounts/{account_id}", headers={"authorization": f"Bearer {token}"})
    assert api_view.status_code == 200, "the cookie holds the same signed token the JSON API takes"
    # Sign-out: a POST with the session's CSRF token.
    r = post(s, api, "sign-out", {}, token=csrf(account.text))
    assert r.status_code == 303 and r.headers["location"].endswith("/app/sign-in?done=signed-out")
    assert any(c.startswith("session=; ") and "Max-Age=0" in c for c in cookie_headers(r))
    revoked = requests.get(f"{api}/accounts/accounts/{account_id}", headers={"authorization": f"Bearer {token}"})
    assert (revoked.status_code, revoked.json()["code"]) == (401, "token_revoked")
    replay = requests.Session()
    replay.cookies.set("session", token, path="/lambda-url/portal/app")
    assert get(replay, api, "account").headers["location"].endswith("/app/sign-in")


def test_a_forgotten_password_gets_the_same_answer_and_the_link_sets_a_new_one(api):
    s, domain, email = signed_up_and_in(api)
    anon = fresh_session()
    for who in (email, "nobody@example.org"):
        r = post(anon, api, "forgot", {"domain": domain, "email": who})
        assert r.status_code == 303 and r.headers["location"].endswith("/app/forgot?done=sent")
    assert "we sent it a link" in get(anon, api, "forgot?done=sent").text
    token = link_token(email, "reset")
    page = get(anon, api, f"reset?token={token}")
    r = post(anon, api, "reset", {"token": token, "password": "short"}, token=csrf(page.text))
    assert r.status_code == 400 and 'id="f-password-error"' in r.text
    r = post(anon, api, "reset", {"token": token, "password": "a brand new passphrase"}, token=csrf(page.text))
    assert r.status_code == 303 and r.headers["location"].endswith("/app/sign-in?done=reset")
    # The older session is revoked; the new password signs in.
    assert get(s, api, "account").status_code == 303
    r = post(anon, api, "sign-in", {"domain": domain, "email": email, "password": "a brand new passphrase"})
    assert r.status_code == 303 and r.headers["location"].endswith("/app/account")


def test_the_account_page_draws_the_forecast_and_the_auto_renewal_switch_changes_it(api, lambdas):
    c = Customer(lambdas, now())
    c.save_card(now())
    s = fresh_session()
    r = post(s, api, "sign-in", {"domain": c.domain, "email": c.email, "password": PASSWORD})
    assert r.status_code == 303
    plans = get(s, api, "plans")
    assert plans.status_code == 200 and "visa ending in 4242" in plans.text
    r = post(s, api, "checkout", {"plan": "basic", "months": "12"}, token=csrf(plans.text))
    assert r.status_code == 303 and r.headers["location"].endswith("/app/account?done=paid"), r.text
    deliver_checkout(lambdas, c.id, now())
    page = get(s, api, "account").text
    assert '<dd id="plan">basic</dd>' in page and "visa ending in 4242" in page
    assert re.search(r'<svg[^>]*role="img"[^>]*aria-labelledby="forecast-title"', page), "the timeline is drawn"
    steps = re.search(r'<ol id="forecast-steps">(.*?)</ol>', page, re.S).group(1)
    assert "Renewal charged" in steps and "Renews" in steps, steps
    assert "Grace period starts" not in steps
    r = post(s, api, "auto-renew", {"enabled": "false"}, token=csrf(page))
    assert r.status_code == 303 and r.headers["location"].endswith("/app/account?done=auto-renew-off")
    page = get(s, api, "account?done=auto-renew-off").text
    assert "Automatic renewal is <strong>off</strong>" in page
    steps = re.search(r'<ol id="forecast-steps">(.*?)</ol>', page, re.S).group(1)
    assert "Renewal charged" not in steps
    for step in ("Grace period starts", "Suspended", "Deleted"):
        assert step in steps, (step, steps)
    assert "Next plan: none" in page and "enters its grace period" in page

    # The plan after the term: the current plan is refused beside the field, Free is taken and
    # replaces grace and suspension in the forecast with the change of plan (§7.4).
    r = post(s, api, "next-plan", {"plan": "basic"}, token=csrf(page))
    assert r.status_code == 400 and 'id="f-plan-error">must be Free or a plan cheaper' in r.text, r.text
    r = post(s, api, "next-plan", {"plan": "free"}, token=csrf(page))
    assert r.status_code == 303 and r.headers["location"].endswith("/app/account?done=next-plan"), r.text
    page = get(s, api, "account?done=next-plan").text
    assert "Next plan: free" in page and "You chose this plan" in page and "fits the free plan" in page
    steps = re.search(r'<ol id="forecast-steps">(.*?)</ol>', page, re.S).group(1)
    assert "Plan changes" in steps and "Grace period starts" not in steps and "Suspended" not in steps, steps


def test_checkout_refusals_are_shown_beside_their_fields(api, lambdas):
    s, _, _ = signed_up_and_in(api)
    plans = get(s, api, "plans")
    assert "save a card" in plans.text, "no card yet: the page says to save one first"
    r = post(s, api, "checkout", {"plan": "basic", "months": "12"}, token=csrf(plans.text))
    assert r.status_code == 400 and "Save a card first." in r.text
    c = Customer(lambdas, now())
    c.save_card(now())
    s = fresh_session()
    assert post(s, api, "sign-in", {"domain": c.domain, "email": c.email, "password": PASSWORD}).status_code == 303
    token = csrf(get(s, api, "plans").text)
    r = post(s, api, "checkout", {"plan": "basic", "months": "many"}, token=token)
    assert r.status_code == 400 and 'id="f-months-error">must be a whole number of months' in r.text
    r = post(s, api, "checkout", {"plan": "gold", "months": "12"}, token=token)
    assert r.status_code == 400 and 'id="f-plan-error">is not a plan of the catalog' in r.text
    r = post(s, api, "checkout", {"plan": "basic", "months": "99"}, token=token)
    assert r.status_code == 400 and 'id="f-months-error">must be 1 to 36' in r.text
    assert "Renewal charged" not in get(s, api, "account").text, "nothing was bought"


def test_termination_needs_the_domain_and_ends_the_session(api):
    s, domain, _ = signed_up_and_in(api)
    page = get(s, api, "terminate")
    assert page.status_code == 200
    r = post(s, api, "terminate", {"confirm_domain": "someone-else"}, token=csrf(page.text))
    assert r.status_code == 400 and 'id="f-confirm_domain-error">must be the account\'s domain' in r.text
    r = post(s, api, "terminate", {"confirm_domain": ""}, token=csrf(page.text))
    assert r.status_code == 400 and 'id="f-confirm_domain-error">Field is required' in r.text
    assert get(s, api, "account").status_code == 200, "still open"
    r = post(s, api, "terminate", {"confirm_domain": domain}, token=csrf(page.text))
    assert r.status_code == 200 and "The account is terminated" in r.text
    assert get(s, api, "account").status_code == 303, "the session ends with the account"


def test_the_export_is_a_json_attachment_of_the_accounts_data(api):
    s, domain, email = signed_up_and_in(api)
    r = get(s, api, "export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == f'attachment; filename="{domain}-export.json"'
    data = r.json()
    assert data["account"]["domain"] == domain and "credentials" not in data["account"]
    assert [u["email"] for u in data["administrators"]] == [email]
    assert data["terms_acceptance"]["kind"] == "terms_accepted"
    assert "$argon2" not in r.text, "no password hash"
