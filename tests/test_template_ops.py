"""template.yaml is ready to operate: alarms to one SNS topic, JSON logs, and SES sends scoped to the
domain identity and the configuration set whose bounces and complaints reach a topic.

Reads template.yaml and the Rust sources only: no build, no local stack.

    .tools/venv/bin/pytest tests/test_template_ops.py -q -p no:cacheprovider
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest
from bootstrap import load_template  # infra/ is on sys.path (conftest)

from conftest import ROOT

SES_SEND = re.compile(r"^ses:(send\w*|\*)$", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def resources(kind: str) -> dict[str, dict]:
    return {k: r for k, r in template()["Resources"].items() if r.get("Type") == kind}


def functions() -> dict[str, dict]:
    return resources("AWS::Serverless::Function")


def function_properties(logical_id: str) -> dict:
    """A function's properties with the template's Globals.Function under them (one level deep,
    Environment.Variables merged, as SAM does)."""
    glob = dict(template().get("Globals", {}).get("Function", {}))
    own = functions()[logical_id].get("Properties", {})
    merged = {**glob, **own}
    variables = {**glob.get("Environment", {}).get("Variables", {}),
                 **own.get("Environment", {}).get("Variables", {})}
    merged["Environment"] = {"Variables": variables}
    return merged


def as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def is_ref(value: Any, logical_id: str) -> bool:
    return value == {"Ref": logical_id}


def the_one(kind: str) -> str:
    found = sorted(resources(kind))
    assert len(found) == 1, f"expected one {kind}, found {found}"
    return found[0]


def alarm_topic() -> str:
    assert "AlarmTopic" in resources("AWS::SNS::Topic"), "no AWS::SNS::Topic AlarmTopic"
    return "AlarmTopic"


def alarms() -> dict[str, dict]:
    return {k: r["Properties"] for k, r in resources("AWS::CloudWatch::Alarm").items()}


def dims(alarm: dict) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def sub_text(value: Any) -> str | None:
    """The string of a `!Sub` (either form), else None."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        s = value["Fn::Sub"]
        return s if isinstance(s, str) else s[0]
    return None


# ------------------------------------------------------------------ alarms

def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_on_ok():
    topic = alarm_topic()
    assert alarms(), "no AWS::CloudWatch::Alarm in template.yaml"
    for name, a in alarms().items():
        assert any(is_ref(x, topic) for x in a.get("AlarmActions", [])), f"{name}: AlarmActions"
        assert any(is_ref(x, topic) for x in a.get("OKActions", [])), f"{name}: OKActions"
        assert a.get("TreatMissingData") in ("notBreaching", "breaching"), f"{name}: TreatMissingData"


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(metric):
    missing = []
    for fn in functions():
        wired = [n for n, a in alarms().items()
                 if a.get("Namespace") == "AWS/Lambda" and a.get("MetricName") == metric
                 and is_ref(dims(a).get("FunctionName"), fn)
                 and a.get("ComparisonOperator") == "GreaterThanThreshold" and a.get("Threshold") == 0
                 and a.get("TreatMissingData") == "notBreaching"]
        if not wired:
            missing.append(fn)
    assert not missing, f"functions without a {metric} alarm (Sum > 0, notBreaching): {missing}"


def test_the_http_api_5xx_and_the_table_throttles_have_alarms():
    api, table = the_one("AWS::Serverless::HttpApi"), the_one("AWS::DynamoDB::Table")
    assert any(a.get("Namespace") == "AWS/ApiGateway" and a.get("MetricName") == "5xx"
               and is_ref(dims(a).get("ApiId"), api) for a in alarms().values()), "no 5xx alarm on the HTTP API"

    def on_table(a: dict) -> set[str]:
        stats = [m["MetricStat"]["Metric"] for m in a.get("Metrics", []) if "MetricStat" in m]
        if a.get("MetricName"):
            stats.append(a)
        return {m["MetricName"] for m in stats if m.get("Namespace") == "AWS/DynamoDB"
                and is_ref(dims(m).get("TableName"), table)}

    covered = set().union(*(on_table(a) for a in alarms().values()))
    assert "ThrottledRequests" in covered or {"ReadThrottleEvents", "WriteThrottleEvents"} <= covered, covered


def saas_alarms() -> dict[str, dict]:
    return {n: a for n, a in alarms().items() if a.get("Namespace") == "SaasBackend"}


@functools.lru_cache(maxsize=1)
def rust_sources() -> dict[str, str]:
    """Every .rs file under shared/ and functions/ (no target/), by path relative to the root."""
    out = {}
    for top in ("shared", "functions"):
        for p in (ROOT / top).rglob("*.rs"):
            if "target" not in p.relative_to(ROOT).parts:
                out[str(p.relative_to(ROOT))] = p.read_text(encoding="utf-8")
    return out


@pytest.mark.parametrize("metric,function,stat", [
    ("SweepLagSeconds", "lifecycle-sweep", "Maximum"),
    ("MailFailed", "lifecycle-sweep", "Sum"),
    ("UnappliedPayments", "renewal", "Sum"),
])
def test_each_saas_metric_has_its_alarm(metric, function, stat):
    found = [a for a in saas_alarms().values() if a.get("MetricName") == metric]
    assert found, f"no alarm on SaasBackend/{metric}"
    for a in found:
        assert dims(a) == {"function": function}, a
        assert a.get("Statistic") == stat and a.get("ComparisonOperator") == "GreaterThanThreshold", a


def test_the_sweep_lag_alarm_threshold_is_a_parameter():
    (a,) = [a for a in saas_alarms().values() if a.get("MetricName") == "SweepLagSeconds"]
    assert is_ref(a["Threshold"], "SweepLagAlarmSeconds")
    assert template()["Parameters"]["SweepLagAlarmSeconds"]["Default"] == 900


@pytest.mark.parametrize("name", sorted({a.get("MetricName") for a in saas_alarms().values()}))
def test_saas_alarms_watch_metrics_the_code_emits(name):
    """EMF names are strings in the Rust sources; an alarm on a name no code emits never fires.
    (SweepLagSeconds fails here until the code emits it.)"""
    for a in [a for a in saas_alarms().values() if a.get("MetricName") == name]:
        function = dims(a).get("function")
        assert (ROOT / "functions" / str(function)).is_dir(), f"dimension function={function} names no crate"
        where = [p for p, text in rust_sources().items()
                 if f'"{name}"' in text and (p.startswith("shared/") or p.startswith(f"functions/{function}/"))]
        assert where, f'no Rust source under shared/ or functions/{function}/ has the string "{name}"'


def test_the_alarm_topic_is_encrypted_and_mails_only_when_asked():
    topic = template()["Resources"][alarm_topic()]["Properties"]
    assert topic.get("KmsMasterKeyId"), "AlarmTopic is not encrypted"
    assert template()["Parameters"]["AlarmEmail"].get("Default") == ""
    subs = [r for r in resources("AWS::SNS::Subscription").values() if is_ref(r["Properties"].get("TopicArn"), "AlarmTopic")]
    assert len(subs) == 1 and subs[0]["Properties"]["Protocol"] == "email"
    assert is_ref(subs[0]["Properties"]["Endpoint"], "AlarmEmail")
    condition = template()["Conditions"][subs[0]["Condition"]]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}, condition


# ------------------------------------------------------------------ logs

def test_every_function_logs_json_to_its_own_log_group():
    groups = resources("AWS::Logs::LogGroup")
    seen: dict[str, str] = {}
    for fn in functions():
        cfg = function_properties(fn).get("LoggingConfig") or {}
        assert cfg.get("LogFormat") == "JSON", f"{fn}: LoggingConfig.LogFormat is {cfg.get('LogFormat')!r}"
        group = cfg.get("LogGroup", {}).get("Ref") if isinstance(cfg.get("LogGroup"), dict) else None
        assert group in groups, f"{fn}: LoggingConfig.LogGroup must !Ref an AWS::Logs::LogGroup, is {cfg.get('LogGroup')}"
        assert group not in seen, f"{fn} and {seen.get(group)} share {group}"
        seen[group] = fn
        assert "RetentionInDays" in groups[group]["Properties"], f"{group} keeps logs forever"


# ------------------------------------------------------------------ mail (SES)

def ses_send_statements() -> list[tuple[str, dict]]:
    out = []
    for fn in functions():
        for policy in as_list(function_properties(fn).get("Policies", [])):
            if isinstance(policy, dict):
                for st in as_list(policy.get("Statement", [])):
                    if any(SES_SEND.match(a) for a in as_list(st.get("Action", []))):
                        out.append((fn, st))
    return out


def test_the_domain_identity_has_2048_bit_easy_dkim_and_the_configuration_set():
    identity = template()["Resources"][the_one("AWS::SES::EmailIdentity")]["Properties"]
    assert is_ref(identity["EmailIdentity"], "SenderDomain")
    assert identity.get("DkimSigningAttributes") == {"NextSigningKeyLength": "RSA_2048_BIT"}
    assert identity.get("DkimAttributes", {}).get("SigningEnabled", True) is True
    assert "SenderDomain" in template()["Parameters"]


def test_every_ses_send_grant_names_the_domain_identity_and_the_configuration_set():
    config_set = the_one("AWS::SES::ConfigurationSet")
    statements = ses_send_statements()
    assert statements, "no function may send mail"
    for fn, st in statements:
        texts = [sub_text(r) for r in as_list(st.get("Resource", []))]
        assert None not in texts, f"{fn}: every SES resource must be an ARN built with !Sub: {st['Resource']}"
        assert any(t.endswith(":identity/${SenderDomain}") for t in texts), f"{fn}: no domain identity in {texts}"
        assert any(t.endswith(f":configuration-set/${{{config_set}}}") for t in texts), f"{fn}: no configuration set"
        for t in texts:
            assert "SenderEmail" not in t and "@" not in t, f"{fn}: an address identity: {t}"
            assert re.search(r":(identity|configuration-set)/", t), f"{fn}: an SES resource of another kind: {t}"


def test_the_functions_that_send_mail_get_the_configuration_set_and_no_other_does():
    config_set = the_one("AWS::SES::ConfigurationSet")
    senders = {fn for fn, _ in ses_send_statements()}
    for fn in functions():
        value = function_properties(fn)["Environment"]["Variables"].get("SES_CONFIGURATION_SET")
        if fn in senders:
            assert is_ref(value, config_set), f"{fn} sends mail; SES_CONFIGURATION_SET is {value!r}"
        else:
            assert value is None, f"{fn} sends no mail but has SES_CONFIGURATION_SET"


def test_bounces_and_complaints_reach_the_mail_feedback_topic():
    config_set = the_one("AWS::SES::ConfigurationSet")
    dests = [r["Properties"] for r in resources("AWS::SES::ConfigurationSetEventDestination").values()
             if is_ref(r["Properties"]["ConfigurationSetName"], config_set)]
    to_topic = [d["EventDestination"] for d in dests
                if is_ref(d["EventDestination"].get("SnsDestination", {}).get("TopicARN"), "MailFeedbackTopic")]
    assert to_topic, "no event destination of the configuration set publishes to MailFeedbackTopic"
    events = {e for d in to_topic if d.get("Enabled", True) for e in d["MatchingEventTypes"]}
    assert {"bounce", "complaint"} <= events, events
    assert is_ref(template()["Outputs"]["MailFeedbackTopicArn"]["Value"], "MailFeedbackTopic")


def test_only_ses_of_this_account_may_publish_mail_feedback():
    policies = [r["Properties"] for r in resources("AWS::SNS::TopicPolicy").values()
                if any(is_ref(t, "MailFeedbackTopic") for t in r["Properties"]["Topics"])]
    assert len(policies) == 1, "MailFeedbackTopic needs one topic policy"
    statements = as_list(policies[0]["PolicyDocument"]["Statement"])
    assert statements
    for st in statements:
        assert st["Principal"] == {"Service": "ses.amazonaws.com"}, st
        assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}, st
