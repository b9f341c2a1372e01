"""openapi.yaml is kept true to the code: the same routes as template.yaml, each mapped to the
function that serves it, each recognized by that function's router, each secured as documented;
and the document itself is valid OpenAPI 3.1."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from bootstrap import load_template  # infra/ is on sys.path (conftest)

from conftest import ROOT

OPENAPI = ROOT / "openapi.yaml"
TEMPLATE = ROOT / "template.yaml"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


# ------------------------------------------------------------------ loading

def template_routes() -> dict[tuple[str, str], str]:
    """(METHOD, path) -> function name (the cargo-lambda binary) for every HttpApi event."""
    doc = load_template(TEMPLATE)
    routes: dict[tuple[str, str], str] = {}
    for res in doc["Resources"].values():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        fn = res["Metadata"]["BuildProperties"]["Binary"]
        for ev in (res["Properties"].get("Events") or {}).values():
            if ev.get("Type") == "HttpApi":
                key = (ev["Properties"]["Method"].upper(), ev["Properties"]["Path"])
                assert key not in routes, f"{key} declared twice in template.yaml"
                routes[key] = fn
    return routes


def openapi_doc() -> dict:
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))


def openapi_routes() -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the path item's `x-function`."""
    routes = {}
    for path, item in openapi_doc()["paths"].items():
        for method in item:
            if method in METHODS:
                routes[(method.upper(), path)] = item.get("x-function")
    return routes


def operation(method: str, path: str) -> dict:
    return openapi_doc()["paths"][path][method.lower()]


ROUTES = sorted(openapi_routes())


# ------------------------------------------------------------------ the document itself

def test_the_document_is_valid_openapi_3_1():
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

    doc = openapi_doc()
    assert doc["openapi"].startswith("3.1")
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_its_routes_are_exactly_the_http_api_events_of_template_yaml():
    documented, declared = openapi_routes(), template_routes()
    assert set(documented) - set(declared) == set(), "documented but not in template.yaml"
    assert set(declared) - set(documented) == set(), "in template.yaml but not documented"
    wrong = {k: (documented[k], declared[k]) for k in declared if documented[k] != declared[k]}
    assert wrong == {}, "x-function (documented, template) differs"


def test_every_error_response_is_problem_json_except_the_forms_html_page():
    """Each documented 4xx/5xx offers application/problem+json (text/html only beside it, for the
    implementation-request page's own posts); the portal's pages (`/app`) answer refusals as pages."""
    doc = openapi_doc()
    refs = doc["components"]["responses"]
    for (method, path) in ROUTES:
        for status, resp in operation(method, path)["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            if "$ref" in resp:
                resp = refs[resp["$ref"].rsplit("/", 1)[1]]
            types = set(resp.get("content", {}))
            if method == "GET" and path == "/forms/implementation-request":
                assert types == {"text/html"}, (method, path, status)
                continue
            if path.startswith("/app"):  # the portal's pages: refusals are pages too
                assert types and types <= {"text/html", "application/problem+json"}, (method, path, status)
                continue
            assert "application/problem+json" in types, (method, path, status)
            assert types <= {"application/problem+json", "text/html"}, (method, path, status)
            if "text/html" in types:
                assert path.startswith("/forms/implementation-request"), (method, path, status)


def test_every_security_scheme_used_is_declared():
    doc = openapi_doc()
    declared = set(doc["components"]["securitySchemes"])
    assert declared == {"bearerAuth", "serviceKey", "operatorKey", "stripeSignature"}
    for (method, path) in ROUTES:
        for req in operation(method, path).get("security", []):
            assert set(req) <= declared, (method, path)


# ------------------------------------------------------------------ against the running functions

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DUMMY = {"id": uuid.uuid4().hex, "label": "dummy-label"}


def fill(path: str, values: dict[str, str] | None = None) -> str:
    v = dict(DUMMY, **(values or {}))
    return re.sub(r"\{(\w+)\}", lambda m: v[m.group(1)], path)


@pytest.fixture(scope="module")
def unmatched(lambdas) -> dict[str, tuple]:
    """What each function's router answers for a route it does not have."""
    out = {}
    for fn in sorted(set(template_routes().values())):
        r = lambdas.at(NOW, fn, "POST", "/no-such-route/at-all", body={})
        assert r.status == 404, (fn, r)
        assert r.headers.get("content-type") == "application/problem+json", (fn, r)
        p = r.json()
        out[fn] = (r.status, p["code"], p["detail"])
    return out


def fingerprint(r) -> tuple:
    try:
        p = r.json()
        return (r.status, p.get("code"), p.get("detail"))
    except ValueError:
        return (r.status, None, r.text[:80])


# Routes where a well-formed but unknown id gets the same answer as an unmatched route: their
# router cannot be told apart from "no such resource" by the problem alone, so they are called
# with a real id (see test_an_unmatched_route_has_a_code_of_its_own).
AMBIGUOUS_WITH_A_DUMMY_ID = {("POST", "/forms/implementation-request/{id}/resend")}


@pytest.fixture(scope="module")
def real_ids(lambdas) -> dict[tuple[str, str], dict]:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": f"route-{uuid.uuid4().hex[:8]}@example.com",
            "phone": "+1 555 010 2030", "country": "US", "region": "Boston, MA", "product": "cloud",
            "request": "A CRM for 40 people", "privacy": "I accept"}
    r = lambdas.at(NOW, "submit-form", "POST", "/forms/implementation-request", body)
    assert r.status == 201, r
    return {("POST", "/forms/implementation-request/{id}/resend"): {"id": r.json()["request_id"]}}


@pytest.mark.parametrize("method,path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_is_recognized_by_its_function(lambdas, unmatched, real_ids, method, path):
    fn = openapi_routes()[(method, path)]
    r = lambdas.at(NOW, fn, method, fill(path, real_ids.get((method, path))), body={})
    assert r.status is not None and r.status < 500, r
    assert fingerprint(r) != unmatched[fn], f"{method} {path} is not routed by {fn}: {r}"
    assert r.status != 405, f"{fn} knows {path} but not {method}: {r}"
    documented = set(operation(method, path)["responses"])
    assert str(r.status) in documented, f"{method} {path} answered an undocumented {r.status}: {r}"


@pytest.mark.parametrize("method,path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_the_documented_security_is_what_the_function_enforces(lambdas, method, path):
    """Without credentials a secured operation is refused (401, or 400 `bad_signature` for the
    webhook); an open operation never answers `unauthorized`."""
    fn = openapi_routes()[(method, path)]
    schemes = {name for req in operation(method, path).get("security", []) for name in req}
    r = lambdas.at(NOW, fn, method, fill(path), body={})
    code = r.json().get("code") if r.headers.get("content-type") == "application/problem+json" else None
    if schemes == {"stripeSignature"}:
        assert (r.status, code) == (400, "bad_signature"), r
    elif schemes:
        assert (r.status, code) == (401, "unauthorized"), r
    else:
        assert code != "unauthorized", r


def test_an_unmatched_route_answers_a_404_problem(unmatched):
    for fn, (status, code, _) in unmatched.items():
        assert status == 404 and code, fn


def test_an_unmatched_route_has_a_code_of_its_own(unmatched):
    for fn, (_, code, _) in unmatched.items():
        assert code == "route_not_found", fn
