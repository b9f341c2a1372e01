"""Identity a customer can live with (SPEC: Sign-in and account, §4.1): e-mail verification and
its deadline, password reset by a link read from the SES emulator, password change, sign-out,
revoked tokens, fair throttling, and per-source rate limits."""

from datetime import timedelta

from conftest import (CARD_OK, Customer, link_token, own_lambdas, ses_messages, signup_body, unique, utc)

T0 = utc(2027, 5, 3, 9, 0, 0)
D = timedelta(days=1)
S = timedelta(seconds=1)
PASSWORD = "correct horse battery"


def sign_in(fns, c, when, password=PASSWORD, ip="198.51.100.7"):
    return fns.at(when, "accounts", "POST", "/sign-in", {"domain": c.domain, "email": c.email, "password": password},
                  source_ip=ip)


def bearer(r) -> dict:
    assert r.status == 200, r
    return {"authorization": f"Bearer {r.json()['token']}"}


# ------------------------------------------------------------------ verification

def test_until_verified_the_only_mail_is_the_link_and_the_welcome_follows_it(lambdas):
    c = Customer(lambdas, T0, verified=False)
    assert [m["subject"] for m in ses_messages(c.email)] == [f"{c.domain}: verify your e-mail address"]
    assert "/app/verify?token=" in ses_messages(c.email)[0]["body"]
    view = lambdas.at(T0, "accounts", "GET", f"/accounts/{c.id}", headers=bearer(sign_in(lambdas, c, T0)))
    assert view.json()["email_verified"] is False, "an unverified administrator may sign in and look"
    r = c.verify(T0 + D)
    assert r.json() == {"account_id": c.id, "verified": True}
    assert c.subjects() == [f"{c.domain}: verify your e-mail address", f"Welcome to {c.domain}"]
    used = lambdas.at(T0 + D, "signup", "POST", "/signup/verify", {"token": link_token(c.email)})
    assert used.status == 400 and used.json()["errors"][0]["field"] == "token", "a link works once"
    assert lambdas.at(T0, "signup", "POST", "/signup/verify", {"token": "0" * 64}).status == 400


def test_an_unverified_administrator_cannot_save_a_card_or_check_out(lambdas):
    c = Customer(lambdas, T0, verified=False)
    auth = bearer(sign_in(lambdas, c, T0))
    card = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/payment-method", headers=auth)
    assert (card.status, card.json()["code"]) == (409, "email_unverified")
    buy = lambdas.at(T0, "renewal", "POST", f"/accounts/{c.id}/checkout", {"plan": "basic", "months": 1}, headers=auth)
    assert (buy.status, buy.json()["code"]) == (409, "email_unverified")


def test_a_link_never_used_deletes_the_account_on_day_seven_and_frees_its_names(fresh):
    c = Customer(fresh, T0, verified=False)
    fresh.sweep(T0 + 5 * D - S)
    assert len(ses_messages(c.email)) == 1
    fresh.sweep(T0 + 5 * D)
    assert [m["subject"] for m in ses_messages(c.email)][-1] == f"{c.domain}: verify your e-mail address before 2027-05-10 09:00 UTC"
    assert "/app/verify?token=" in ses_messages(c.email)[-1]["body"], "the reminder carries a link of its own"
    fresh.sweep(T0 + 7 * D - S)
    assert c.state() == "active"
    fresh.sweep(T0 + 7 * D)
    assert c.state() == "deleted" and c.raw()["reason"]["S"] == "unverified"
    assert len(ses_messages(c.email)) == 2, "no deletion notices: the link and its reminder are all it gets"
    again = fresh.at(T0 + 7 * D, "signup", "POST", "/signup", signup_body(c.domain, c.email))
    assert again.status == 201, "the label and the address can be taken again"


def test_a_verified_account_is_not_deleted_on_day_seven(fresh):
    c = Customer(fresh, T0)
    fresh.sweep(T0 + 8 * D)
    assert c.state() == "active"


# ------------------------------------------------------------------ password reset and change

def test_a_reset_link_from_the_mail_sets_a_new_password_once_and_revokes_old_tokens(lambdas):
    c = Customer(lambdas, T0)
    old = bearer(sign_in(lambdas, c, T0))
    r = lambdas.at(T0, "accounts", "POST", "/sign-in/password-reset", {"domain": c.domain, "email": c.email})
    assert r.status == 202
    token = link_token(c.email, "reset")
    new = "a brand new passphrase"
    done = lambdas.at(T0 + timedelta(minutes=5), "accounts", "POST", "/sign-in/password-reset/confirm",
                      {"token": token, "password": new})
    assert done.status == 204, done
    assert sign_in(lambdas, c, T0 + timedelta(minutes=6)).status == 401, "the old password is gone"
    assert sign_in(lambdas, c, T0 + timedelta(minutes=6), password=new).status == 200
    stale = lambdas.at(T0 + timedelta(minutes=6), "accounts", "GET", f"/accounts/{c.id}", headers=old)
    assert (stale.status, stale.json()["code"]) == (401, "token_revoked")
    reused = lambdas.at(T0 + timedelta(minutes=7), "accounts", "POST", "/sign-in/password-reset/confirm",
                        {"token": token, "password": "yet another passphrase"})
    assert reused.status == 400 and reused.json()["errors"][0]["field"] == "token"


def test_a_reset_link_is_good_for_sixty_minutes_of_event_time(lambdas):
    c = Customer(lambdas, T0)
    lambdas.at(T0, "accounts", "POST", "/sign-in/password-reset", {"domain": c.domain, "email": c.email})
    token = link_token(c.email, "reset")
    late = lambdas.at(T0 + timedelta(minutes=60), "accounts", "POST", "/sign-in/password-reset/confirm",
                      {"token": token, "password": "a brand new passphrase"})
    assert late.status == 400
    ok = lambdas.at(T0 + timedelta(minutes=60) - S, "accounts", "POST", "/sign-in/password-reset/confirm",
                    {"token": token, "password": "a brand new passphrase"})
    assert ok.status == 204


def test_a_reset_request_answers_202_whoever_asks_and_mails_only_a_real_administrator(lambdas):
    c = Customer(lambdas, T0)
    before = len(ses_messages(c.email))
    for body in ({"domain": c.domain, "email": "nobody@example.org"}, {"domain": "other-domain", "email": c.email}):
        r = lambdas.at(T0, "accounts", "POST", "/sign-in/password-reset", body)
        assert (r.status, r.text) == (202, ""), body
    assert len(ses_messages(c.email)) == before, "the address of another domain gets nothing"


def test_a_password_change_needs_the_current_one_and_answers_a_new_token_revoking_the_old(lambdas):
    c = Customer(lambdas, T0)
    old = bearer(sign_in(lambdas, c, T0))
    path = f"/accounts/{c.id}/password"
    wrong = lambdas.at(T0, "accounts", "PUT", path, {"current_password": "nope nope nope", "new_password": "x" * 12}, headers=old)
    assert (wrong.status, wrong.json()["code"]) == (401, "invalid_credentials")
    weak = lambdas.at(T0, "accounts", "PUT", path, {"current_password": PASSWORD, "new_password": "short"}, headers=old)
    assert weak.status == 400 and weak.json()["errors"][0]["field"] == "new_password"
    ok = lambdas.at(T0, "accounts", "PUT", path, {"current_password": PASSWORD, "new_password": "  spaced out pass  "},
                    headers=old)
    assert ok.status == 200
    fresh_token = {"authorization": f"Bearer {ok.json()['token']}"}
    assert lambdas.at(T0, "accounts", "GET", f"/accounts/{c.id}", headers=old).json()["code"] == "token_revoked"
    assert lambdas.at(T0, "accounts", "GET", f"/accounts/{c.id}", headers=fresh_token).status == 200
    assert sign_in(lambdas, c, T0, password="  spaced out pass  ").status == 200, "spaces are part of a password"
    assert sign_in(lambdas, c, T0, password="spaced out pass").status == 401


def test_a_password_with_surrounding_spaces_signs_in_as_typed(lambdas):
    c = Customer(lambdas, T0, password=" correct horse battery ")
    assert sign_in(lambdas, c, T0, password=" correct horse battery ").status == 200
    assert sign_in(lambdas, c, T0, password="correct horse battery").status == 401


def test_control_characters_are_refused_in_a_new_password(lambdas):
    body = signup_body(unique("ctl"), f"{unique('c')}@example.org", password="correct\nhorse battery")
    r = lambdas.at(T0, "signup", "POST", "/signup", body)
    assert r.status == 400 and r.json()["errors"][0]["field"] == "password"


# ------------------------------------------------------------------ sign-out and revocation

def test_after_sign_out_the_token_is_refused_everywhere(lambdas):
    c = Customer(lambdas, T0)
    auth = bearer(sign_in(lambdas, c, T0))
    assert lambdas.at(T0, "accounts", "POST", "/sign-out", headers=auth).status == 204
    for fn, method, path, body in (("accounts", "GET", f"/accounts/{c.id}", None),
                                   ("accounts", "GET", f"/accounts/{c.id}/history", None),
                                   ("renewal", "PUT", f"/accounts/{c.id}/auto-renew", {"enabled": False}),
                                   ("renewal", "POST", f"/accounts/{c.id}/checkout", {"plan": "basic", "months": 1})):
        r = lambdas.at(T0, fn, method, path, body, headers=auth)
        assert (r.status, r.json()["code"]) == (401, "token_revoked"), (path, r)
    assert lambdas.at(T0, "accounts", "GET", f"/accounts/{c.id}", headers=bearer(sign_in(lambdas, c, T0))).status == 200


def test_a_terminated_accounts_tokens_are_revoked(lambdas):
    c = Customer(lambdas, T0)
    auth = bearer(sign_in(lambdas, c, T0))
    r = lambdas.at(T0, "accounts", "POST", f"/accounts/{c.id}/termination", {"confirm_domain": c.domain}, headers=auth)
    assert r.status == 200
    again = lambdas.at(T0, "accounts", "GET", f"/accounts/{c.id}", headers=auth)
    assert (again.status, again.json()["code"]) == (401, "token_revoked")


# ------------------------------------------------------------------ throttling

def test_five_wrong_passwords_from_one_source_do_not_lock_out_the_right_password_from_another(lambdas):
    c = Customer(lambdas, T0)
    for i in range(5):
        assert sign_in(lambdas, c, T0 + i * S, password="wrong password", ip="203.0.113.66").status == 401
    locked = sign_in(lambdas, c, T0 + 10 * S, ip="203.0.113.66")
    assert locked.status == 429 and locked.json()["code"] == "rate_limited" and int(locked.headers["retry-after"]) > 0
    assert sign_in(lambdas, c, T0 + 10 * S, ip="198.51.100.99").status == 200, "the real administrator signs in"
    assert sign_in(lambdas, c, T0 + timedelta(minutes=15), ip="203.0.113.66").status == 200, "the window ends"


def test_a_reset_clears_the_addresss_failures(lambdas):
    c = Customer(lambdas, T0)
    for i in range(5):
        sign_in(lambdas, c, T0 + i * S, password="wrong password")
    assert sign_in(lambdas, c, T0 + 10 * S).status == 429
    lambdas.at(T0 + 20 * S, "accounts", "POST", "/sign-in/password-reset", {"domain": c.domain, "email": c.email})
    done = lambdas.at(T0 + 30 * S, "accounts", "POST", "/sign-in/password-reset/confirm",
                      {"token": link_token(c.email, "reset"), "password": "a brand new passphrase"})
    assert done.status == 204
    assert sign_in(lambdas, c, T0 + 40 * S, password="a brand new passphrase").status == 200


def test_signups_and_reset_requests_are_limited_per_source_ip(stack):
    limits = '{"signup_per_ip_per_hour": 3, "reset_per_ip_per_hour": 2}'
    with own_lambdas("limits", {"RATE_LIMITS_JSON": limits}) as fns:
        for i in range(3):
            r = fns.at(T0, "signup", "POST", "/signup", signup_body(unique("lim"), f"{unique('l')}@example.org"))
            assert r.status == 201, r
        over = fns.at(T0, "signup", "POST", "/signup", signup_body(unique("lim"), f"{unique('l')}@example.org"))
        assert (over.status, over.json()["code"]) == (429, "rate_limited")
        assert over.headers["retry-after"] == "3600", "until the hour ends"
        other_ip = fns.at(T0, "signup", "POST", "/signup", signup_body(unique("lim"), f"{unique('l')}@example.org"),
                          source_ip="192.0.2.44")
        assert other_ip.status == 201
        body = {"domain": "whatever", "email": "x@example.org"}
        assert [fns.at(T0, "accounts", "POST", "/sign-in/password-reset", body).status for _ in range(3)] == [202, 202, 429]
