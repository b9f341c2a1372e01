"""Each function's secrets: what its code declares (`App::from_env(&[Secret::…])` in its main.rs)
against what template.yaml gives it (a `*_ARN` variable per secret, and `secretsmanager:
GetSecretValue` on exactly those secrets), and no secret value left in any environment.

Reads template.yaml and the Rust sources only: no build, no local stack. That a function really
reads only what it declares is shown at run time: `Secrets::get` refuses an undeclared secret,
and every end-to-end test runs the functions with only their declared secrets loaded.

    .tools/venv/bin/pytest tests/test_secrets.py -q -p no:cacheprovider
"""

from __future__ import annotations

import re

import pytest
from test_template_ops import as_list, function_properties, functions, template

from conftest import ROOT

# The Rust enum's variants and the variable each is found under (shared/platform/src/secrets.rs).
SECRETS_RS = (ROOT / "shared" / "platform" / "src" / "secrets.rs").read_text()
ENV_OF = dict(re.findall(r'Secret::(\w+) => "(\w+_ARN)"', SECRETS_RS))
# Values that must never reach a Lambda environment again.
OLD_VALUES = {"TOKEN_SECRET", "RATE_KEY", "SERVICE_KEY", "OPERATOR_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"}


def binaries() -> dict[str, str]:
    """Logical id -> the crate its Metadata builds."""
    return {lid: r["Metadata"]["BuildProperties"]["Binary"] for lid, r in functions().items()}


def declared(crate: str) -> set[str]:
    main = (ROOT / "functions" / crate / "src" / "main.rs").read_text()
    m = re.search(r"App::from_env\(&\[(.*?)\]\)", main, re.S)
    return set(re.findall(r"Secret::(\w+)", m.group(1))) if m else set()


def granted(lid: str) -> set[str]:
    """Logical ids of the secrets the function's policies let it read."""
    out = set()
    for policy in as_list(functions()[lid]["Properties"].get("Policies", [])):
        if not isinstance(policy, dict):
            continue
        for st in as_list(policy.get("Statement", [])):
            actions = {a.lower() for a in as_list(st.get("Action", []))}
            if st.get("Effect") == "Allow" and actions & {"secretsmanager:getsecretvalue", "secretsmanager:*"}:
                for r in as_list(st.get("Resource", [])):
                    assert isinstance(r, dict) and "Ref" in r, f"{lid}: a secret grant on {r!r}, not one secret"
                    out.add(r["Ref"])
    return out


def test_the_enum_and_this_test_agree_on_the_secrets():
    assert set(ENV_OF) == {"Token", "RateKey", "ServiceKey", "OperatorKey", "StripeKey", "StripeWebhook"}


@pytest.mark.parametrize("lid", sorted(functions()))
def test_a_function_gets_a_variable_and_a_grant_for_each_secret_it_declares_and_no_other(lid):
    crate = binaries()[lid]
    want = declared(crate)
    variables = function_properties(lid)["Environment"]["Variables"]
    given = {name: v for name, v in variables.items() if name.endswith("_ARN") and name in ENV_OF.values()}
    assert set(given) == {ENV_OF[s] for s in want}, f"{lid} ({crate}) declares {sorted(want)}"
    refs = {v["Ref"] for v in given.values()}
    assert granted(lid) == refs, f"{lid}: may read {sorted(granted(lid))}, is given {sorted(refs)}"
    for ref in refs:
        assert template()["Resources"][ref]["Type"] == "AWS::SecretsManager::Secret", ref


@pytest.mark.parametrize("lid", sorted(functions()))
def test_no_secret_value_is_in_a_function_environment(lid):
    variables = function_properties(lid)["Environment"]["Variables"]
    assert not OLD_VALUES & set(variables), f"{lid} still gets {sorted(OLD_VALUES & set(variables))}"


def test_signup_counts_without_the_token_key_and_the_form_function_gets_no_service_or_stripe_key():
    """Signup only counts (the rate key); the public form function verifies an administrator's token
    on one route, so it holds the token key, but never the service key or Stripe's."""
    assert declared("signup") == {"RateKey"}
    form = next(lid for lid, c in binaries().items() if c == "submit-form")
    assert declared("submit-form") == {"Token", "RateKey", "OperatorKey"}
    assert not {"ServiceKey", "StripeSecretKey", "StripeWebhookSecret"} & granted(form)
