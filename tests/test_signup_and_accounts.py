"""Signup, sign-in and the account, end to end through `cargo lambda` and DynamoDB Local."""

from datetime import timedelta

import requests

from conftest import ddb, key, link_token, signup_body, unique, utc

T0 = utc(2027, 1, 10, 9, 0, 0)


def sign_up(lambdas, when=T0, verify=True, **over):
    """A signup; with `verify`, its administrator opens the mailed link."""
    domain = over.pop("domain", unique("acme"))
    email = over.pop("email", f"{unique('ann')}@acme.example")
    r = lambdas.at(when, "signup", "POST", "/signup", signup_body(domain, email, **over))
    if verify and r.status == 201:
        assert lambdas.at(when, "signup", "POST", "/signup/verify", {"token": link_token(email)}).status == 200
    return r, domain, email


def sign_in(lambdas, domain, email, when=T0, password="correct horse battery"):
    return lambdas.at(when, "accounts", "POST", "/sign-in", {"domain": domain, "email": email, "password": password})


def test_signup_then_sign_in_then_view_the_account_through_the_function_urls(api, mail):
    domain, email = unique("web"), f"{unique('ann')}@acme.example"
    r = requests.post(f"{api}/signup/signup", json=signup_body(domain, email), timeout=60)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["plan"] == "free" and created["state"] == "active"
    assert created["contracting_party"] == {"name": "Bitrix24 Ltd.", "notices_email": "privacy@bitrix24.eu"}

    r = requests.post(f"{api}/signup/signup/verify", json={"token": link_token(email)}, timeout=60)
    assert r.status_code == 200 and r.json()["verified"] is True, r.text
    r = requests.post(f"{api}/accounts/sign-in", json={"domain": domain, "email": email, "password": "correct horse battery"}, timeout=60)
    assert r.status_code == 200, r.text
    token = r.json()["token"]

    r = requests.get(f"{api}/accounts/accounts/{created['account_id']}", headers={"authorization": f"Bearer {token}"}, timeout=60)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["domain"] == domain and view["term_end"] is None and view["next_plan"] is None
    assert [f["event"] for f in view["forecast"]][:2] == ["notice:inactivity_warning", "archived"]

    link, welcome = mail(email)
    assert "/app/verify?token=" in link["body"]
    assert "2021-11-01" in welcome["body"] and "Bitrix24 Ltd." in welcome["body"], "the welcome follows the link"


def test_the_acceptance_is_recorded_with_version_time_ip_and_user_agent(lambdas):
    r, domain, email = sign_up(lambdas)
    token = sign_in(lambdas, domain, email).json()["token"]
    h = lambdas.at(T0, "accounts", "GET", f"/accounts/{r.json()['account_id']}/history",
                   headers={"authorization": f"Bearer {token}"}).json()
    accepted = [e for e in h["events"] if e["kind"] == "terms_accepted"]
    assert accepted == [{
        "at": "2027-01-10T09:00:00Z", "kind": "terms_accepted", "terms_version": "2021-11-01",
        "source_ip": "198.51.100.7", "user_agent": "pytest", "legal_age_confirmed": True,
        "contracting_party": {"name": "Bitrix24 Ltd.", "notices_email": "privacy@bitrix24.eu"}}]
    assert h["events"][0]["kind"] == "terms_accepted"


def test_a_us_customer_contracts_with_bitrix_inc(lambdas):
    r, _, _ = sign_up(lambdas, country="US", region="US-CA")
    assert r.status == 201, r
    assert r.json()["contracting_party"]["name"] == "Bitrix, Inc."


def test_embargoed_countries_and_crimea_get_451(lambdas):
    for over in ({"country": "CU"}, {"country": "IR"}, {"country": "UA", "region": "UA-43"}):
        r, _, _ = sign_up(lambdas, **over)
        assert r.status == 451, (over, r)
        assert r.json()["code"] == "embargoed"
        assert r.headers["content-type"] == "application/problem+json"


def test_countries_outside_the_terms_get_422(lambdas):
    r, _, _ = sign_up(lambdas, country="RU")
    assert (r.status, r.json()["code"]) == (422, "country_not_served")


def test_bad_input_is_a_400_naming_each_field(lambdas):
    r = lambdas.at(T0, "signup", "POST", "/signup", {"domain": "-bad", "email": "nope", "password": "short",
                                                       "accept_terms": False, "legal_age": "yes"})
    assert r.status == 400, r
    fields = {e["field"] for e in r.json()["errors"]}
    assert "legal_age" in fields  # wrong type is named, not a 500
    r = lambdas.at(T0, "signup", "POST", "/signup", {"domain": "-bad", "email": "nope", "password": "short", "accept_terms": False})
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert {"company", "domain", "email", "password", "accept_terms", "terms_version", "legal_age", "country"} <= set(fields)
    assert fields["company"] == "Field is required"


def test_a_body_that_is_not_json_is_a_400(lambdas):
    r = lambdas.at(T0, "signup", "POST", "/signup", raw="{not json")
    assert r.status == 400 and r.json()["errors"][0]["field"] == "body"


def test_another_terms_version_is_refused_naming_terms_version(lambdas):
    r, _, _ = sign_up(lambdas, terms_version="2020-01-01")
    assert r.status == 400
    assert [e["field"] for e in r.json()["errors"]] == ["terms_version"]


def test_a_taken_domain_and_a_taken_email_are_409(lambdas):
    r, domain, email = sign_up(lambdas)
    assert r.status == 201
    again, _, _ = sign_up(lambdas, domain=domain)
    assert (again.status, again.json()["code"]) == (409, "domain_taken")
    again, _, _ = sign_up(lambdas, email=email)
    assert (again.status, again.json()["code"]) == (409, "email_taken")


def test_domain_availability_and_labels_that_can_never_be_used(lambdas):
    r, domain, _ = sign_up(lambdas)
    assert lambdas.at(T0, "signup", "GET", f"/signup/domains/{domain}").json() == {"domain": domain, "available": False}
    assert lambdas.at(T0, "signup", "GET", "/signup/domains/free-label-xyz").json()["available"] is True
    for bad in ("www", "ab", "Upper", "-x-"):
        r = lambdas.at(T0, "signup", "GET", f"/signup/domains/{bad}")
        assert r.status == 400, bad
        assert r.json()["errors"][0]["field"] == "label"


def test_unknown_email_and_wrong_password_give_the_same_answer(lambdas):
    _, domain, email = sign_up(lambdas)
    wrong = sign_in(lambdas, domain, email, password="not the password")
    unknown = sign_in(lambdas, domain, "nobody@acme.example", password="not the password")
    assert wrong.status == unknown.status == 401
    assert wrong.json() == unknown.json()


def test_repeated_failures_are_throttled_then_released_after_the_window(lambdas):
    _, domain, email = sign_up(lambdas)
    for i in range(5):
        assert sign_in(lambdas, domain, email, when=T0 + timedelta(seconds=i), password="wrong password").status == 401
    assert sign_in(lambdas, domain, email, when=T0 + timedelta(minutes=1)).status == 429
    assert sign_in(lambdas, domain, email, when=T0 + timedelta(minutes=16)).status == 200


def test_a_token_never_reads_another_account_and_expires_by_event_time(lambdas):
    r1, d1, e1 = sign_up(lambdas)
    r2, _, _ = sign_up(lambdas)
    token = sign_in(lambdas, d1, e1).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    assert lambdas.at(T0, "accounts", "GET", f"/accounts/{r1.json()['account_id']}", headers=auth).status == 200
    assert lambdas.at(T0, "accounts", "GET", f"/accounts/{r2.json()['account_id']}", headers=auth).status == 403
    late = T0 + timedelta(minutes=60)
    assert lambdas.at(late, "accounts", "GET", f"/accounts/{r1.json()['account_id']}", headers=auth).status == 401
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert lambdas.at(T0, "accounts", "GET", f"/accounts/{r1.json()['account_id']}", headers={"authorization": f"Bearer {forged}"}).status == 401


def test_service_routes_need_the_service_key(lambdas):
    r, _, _ = sign_up(lambdas)
    aid = r.json()["account_id"]
    body = {"users": 3, "storage_gb": 2, "features": ["sites"]}
    assert lambdas.at(T0, "accounts", "PUT", f"/accounts/{aid}/usage", body).status == 401
    assert lambdas.at(T0, "accounts", "PUT", f"/accounts/{aid}/usage", body, headers={"x-service-key": "wrong"}).status == 401
    ok = lambdas.at(T0, "accounts", "PUT", f"/accounts/{aid}/usage", body, headers={"x-service-key": "local-only-service-key"})
    assert ok.status == 200 and ok.json()["usage"]["users"] == 3
    missing = lambdas.at(T0, "accounts", "PUT", f"/accounts/{aid}/usage", {"features": []}, headers={"x-service-key": "local-only-service-key"})
    assert missing.status == 400 and {e["field"] for e in missing.json()["errors"]} == {"users", "storage_gb"}


def test_reported_activity_moves_the_forecast_archive_date(lambdas):
    r, domain, email = sign_up(lambdas)
    aid = r.json()["account_id"]
    later = T0 + timedelta(days=10)
    assert lambdas.at(later, "accounts", "POST", f"/accounts/{aid}/activity", headers={"x-service-key": "local-only-service-key"}).status == 204
    token = sign_in(lambdas, domain, email, when=later).json()["token"]
    view = lambdas.at(later, "accounts", "GET", f"/accounts/{aid}", headers={"authorization": f"Bearer {token}"}).json()
    archived = next(f["at"] for f in view["forecast"] if f["event"] == "archived")
    assert archived == "2027-02-19T09:00:00Z"


def test_termination_needs_the_domain_confirmed_and_ends_sign_in(lambdas, mail):
    r, domain, email = sign_up(lambdas)
    aid = r.json()["account_id"]
    auth = {"authorization": f"Bearer {sign_in(lambdas, domain, email).json()['token']}"}
    wrong = lambdas.at(T0, "accounts", "POST", f"/accounts/{aid}/termination", {"confirm_domain": "other"}, headers=auth)
    assert wrong.status == 400 and wrong.json()["errors"][0]["field"] == "confirm_domain"
    done = lambdas.at(T0, "accounts", "POST", f"/accounts/{aid}/termination", {"confirm_domain": domain}, headers=auth)
    assert done.status == 200, done
    assert done.json()["state"] == "terminated" and done.json()["deletion_at"] == "2027-02-09T09:00:00Z"
    assert sign_in(lambdas, domain, email).status == 401
    assert any("termination" in m["subject"] for m in mail(email))


def test_unknown_routes_and_methods_are_4xx_problems(lambdas):
    assert lambdas.at(T0, "accounts", "GET", "/nope").status == 404
    assert lambdas.at(T0, "accounts", "DELETE", "/sign-in").status == 405
    r = lambdas.at(T0, "accounts", "GET", "/accounts/doesnotexist", headers={"authorization": "Bearer x"})
    assert r.status == 401 and r.headers["content-type"] == "application/problem+json"
