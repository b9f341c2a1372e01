"""Each function's IAM policy in template.yaml against what its Rust code can do.

`iam_walk` reads the sources (no build, no AWS) and finds, for each function crate, every AWS action
its code can issue and the shortest call chain to it; these tests compare that with the statements
of the function's `Policies`. A function must hold every DynamoDB action its code can issue, on the
table or the index it is issued on, and no other; the same for the other services its code calls
through an AWS SDK (SES today). A failure names the function, the action and the chain of calls.

    .tools/venv/bin/python -m pytest tests/test_iam.py -q     (well under a second)
    .tools/venv/bin/python tests/iam_walk.py -v               (what each function can issue, and why)
"""

from __future__ import annotations

import fnmatch
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootstrap import load_template  # infra/ is on sys.path (conftest)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iam_walk  # noqa: E402
from iam_walk import TABLE, Need  # noqa: E402

TEMPLATE = iam_walk.ROOT / "template.yaml"


# ---------------------------------------------------------------- the template

@dataclass(frozen=True)
class Grant:
    """One allowed action pattern on one resource: `table`, `index/<name>`, `*`, or `other:<...>`."""
    action: str
    resource: str
    sid: str

    def covers(self, need: Need) -> bool:
        """IAM's matching: actions case-insensitive with `*`/`?` wildcards; a resource `*` is any."""
        return fnmatch.fnmatch(need.action.lower(), self.action.lower()) and (
            self.resource == "*" or (need.resource != "*" and fnmatch.fnmatchcase(need.resource, self.resource))
            or (need.resource == "*" and not self.resource.startswith(("table", "index/"))))


@dataclass
class Policy:
    logical_id: str
    grants: list[Grant]
    unreadable: list[str]  # policy entries the test cannot read (managed policies, SAM templates)


def _table_ids(template: dict) -> set[str]:
    return {k for k, r in template["Resources"].items() if r.get("Type") == "AWS::DynamoDB::Table"}


def _resource_kind(res: Any, tables: set[str]) -> str:
    """`table` for a table's ARN, `index/<name>` for `${Table.Arn}/index/<name>`, `*`, else `other:..`."""
    if res == "*":
        return "*"
    if isinstance(res, dict) and "Fn::GetAtt" in res:
        target = res["Fn::GetAtt"]
        target = target.split(".") if isinstance(target, str) else target
        if list(target) in ([t, "Arn"] for t in tables):
            return TABLE
    if isinstance(res, dict) and "Fn::Sub" in res:
        text = res["Fn::Sub"] if isinstance(res["Fn::Sub"], str) else res["Fn::Sub"][0]
        for t in tables:
            if text.startswith(f"${{{t}.Arn}}/index/"):
                return "index/" + text[len(f"${{{t}.Arn}}/index/"):]
    return f"other:{res}"


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


@functools.lru_cache(maxsize=1)
def template() -> dict:
    return load_template(TEMPLATE)


@functools.lru_cache(maxsize=1)
def policies() -> dict[str, Policy]:
    """Each function's policy, by the binary it runs (`Metadata.BuildProperties.Binary`)."""
    t = template()
    tables = _table_ids(t)
    out = {}
    for logical_id, r in t["Resources"].items():
        if r.get("Type") != "AWS::Serverless::Function":
            continue
        binary = r.get("Metadata", {}).get("BuildProperties", {}).get("Binary", logical_id)
        props = r.get("Properties", {})
        grants, unreadable = [], []
        if "Role" in props:
            unreadable.append(f"Role: {props['Role']} (its policies are not in the function)")
        for entry in _as_list(props.get("Policies", [])):
            if not (isinstance(entry, dict) and "Statement" in entry):
                unreadable.append(str(entry))
                continue
            for i, st in enumerate(_as_list(entry["Statement"])):
                if st.get("Effect") != "Allow" or "NotAction" in st or "NotResource" in st:
                    unreadable.append(f"statement {st.get('Sid', i)}: only Allow/Action/Resource is read")
                    continue
                for action in _as_list(st.get("Action", [])):
                    for res in _as_list(st.get("Resource", [])):
                        grants.append(Grant(action, _resource_kind(res, tables), st.get("Sid", str(i))))
        out[binary] = Policy(logical_id, grants, unreadable)
    return out


def granted(binary: str, need: Need) -> bool:
    return any(g.covers(need) for g in policies()[binary].grants)


@functools.lru_cache(maxsize=1)
def analysis() -> iam_walk.Analysis:
    return iam_walk.analyse()


def deployed() -> list[tuple[str, iam_walk.FunctionNeeds]]:
    """The functions both walked and in the template (the first test checks that is all of them)."""
    return sorted((b, fn) for b, fn in analysis().functions.items() if b in policies())


def due_index() -> str:
    """The resource of the store's index query (`index/ByDueTime`), as the walk found it."""
    (index,) = {n.resource for needs in analysis().store_actions.values() for n in needs or ()
                if n.resource.startswith("index/")}
    return index


def _is_dynamodb_table_grant(g: Grant) -> bool:
    return g.action.lower().startswith("dynamodb:") and (g.resource in (TABLE, "*") or g.resource.startswith("index/"))


def _unused(binary: str, fn: iam_walk.FunctionNeeds, wanted) -> list[str]:
    """The grants of `binary` that `wanted` selects and that no need of its code uses."""
    return [g.action + (f" on {g.resource}" if g.resource.startswith("index/") else "") + f" (Sid {g.sid})"
            for g in policies()[binary].grants if wanted(g) and not any(g.covers(n) for n in fn.needs)]


def _guess_note(fn: iam_walk.FunctionNeeds) -> str:
    guessed = fn.guessed_only()
    if not guessed:
        return ""
    return ("\n    (found only through calls the walk could not pin down, so possibly not needed: "
            + ", ".join(sorted(map(str, guessed))) + ")")


# ---------------------------------------------------------------- the tests

def test_every_function_crate_is_a_function_of_the_template_and_the_other_way_round():
    walked = set(analysis().functions)
    in_template = set(policies())
    assert walked == in_template, (
        f"function crates without a function in template.yaml: {sorted(walked - in_template)}; "
        f"template functions whose Binary is no crate under functions/: {sorted(in_template - walked)}")


def test_every_function_policy_is_made_of_statements_the_test_can_read():
    unreadable = {b: p.unreadable for b, p in policies().items() if p.unreadable}
    assert not unreadable, (
        "these policies are not plain Allow statements with Action and Resource (SAM policy templates,"
        " managed policies, a Role): write them out so their actions can be checked: " + repr(unreadable))


def test_every_dynamodb_action_a_function_can_issue_is_granted_to_it():
    missing = {}
    for binary, fn in deployed():
        lacks = [n for n in sorted(fn.needs, key=str) if n.action.startswith("dynamodb:") and not granted(binary, n)]
        if lacks:
            missing[binary] = [f"{n}  <-  {fn.why(n)}" for n in lacks]
    assert not missing, "functions whose code can issue a DynamoDB action their policy does not grant:\n" + \
        "\n".join(f"  {b} ({policies()[b].logical_id}):\n" + "\n".join(f"    missing {m}" for m in ms)
                  for b, ms in missing.items())


def test_no_function_holds_a_dynamodb_action_its_code_never_issues():
    """Precise up to the walk's guesses: a call it cannot pin down counts for every function of
    that name, which can only add needs (hide an extra grant here), never remove one. Today no
    need is found through a guess alone; if one ever is, the message says so."""
    extra = {}
    for binary, fn in deployed():
        unused = _unused(binary, fn, _is_dynamodb_table_grant)
        if unused:
            extra[binary] = unused
    assert not extra, "functions holding DynamoDB actions their code never issues:\n" + "\n".join(
        f"  {b} ({policies()[b].logical_id}): " + ", ".join(u) + _guess_note(dict(deployed())[b])
        for b, u in extra.items())


def test_the_due_index_is_granted_to_exactly_the_functions_that_query_it():
    index = due_index()
    gsis = {g["IndexName"] for t in _table_ids(template())
            for g in template()["Resources"][t]["Properties"].get("GlobalSecondaryIndexes", [])}
    assert index.removeprefix("index/") in gsis, f"the store queries {index}, which the table does not declare"
    wrong = []
    for binary, fn in deployed():
        queries = Need("dynamodb:Query", index) in fn.needs
        holds = [g for g in policies()[binary].grants
                 if g.resource.startswith("index/") and fnmatch.fnmatchcase(index, g.resource)]
        if queries and not granted(binary, Need("dynamodb:Query", index)):
            wrong.append(f"{binary} queries {index} ({fn.why(Need('dynamodb:Query', index))}) without the grant")
        if not queries and holds:
            wrong.append(f"{binary} never queries {index} but holds " + ", ".join(g.action for g in holds) + " on it")
    assert not wrong, "\n".join(wrong)


def _other_services() -> set[str]:
    """The IAM prefixes (besides dynamodb) of the SDK calls the walked code makes, e.g. {"ses"}."""
    return {n.action.split(":")[0] for fn in analysis().functions.values() for n in fn.needs} - {"dynamodb"}


def test_every_action_of_another_service_a_function_can_issue_is_granted_to_it():
    missing = {}
    for binary, fn in deployed():
        lacks = [n for n in sorted(fn.needs, key=str)
                 if not n.action.startswith("dynamodb:") and not granted(binary, n)]
        if lacks:
            missing[binary] = [f"{n}  <-  {fn.why(n)}" for n in lacks]
    assert not missing, "functions whose code can issue an action their policy does not grant:\n" + \
        "\n".join(f"  {b}:\n" + "\n".join(f"    missing {m}" for m in ms) for b, ms in missing.items())


def test_no_function_holds_an_action_of_an_sdk_service_its_code_never_issues():
    """Only services the code calls through an AWS SDK are checked (SES today): grants of
    others (none today) may serve the runtime rather than our code and are left alone."""
    services = _other_services()
    extra = {}
    for binary, fn in deployed():
        unused = _unused(binary, fn, lambda g: g.action.split(":")[0].lower() in services)
        if unused:
            extra[binary] = unused
    assert not extra, "functions holding actions their code never issues:\n" + "\n".join(
        f"  {b}: " + ", ".join(u) for b, u in extra.items())


# ---------------------------------------------------------------- the walk itself

def test_the_store_map_follows_the_sdk_calls_in_store_rs():
    """Each store primitive is mapped from the SDK operation its body calls, not by name; and the
    ones that take `Write`s are the ones whose writes decide the actions."""
    store = analysis().store_actions
    expected = {
        "get": {Need("dynamodb:GetItem")},
        "get_many": {Need("dynamodb:BatchGetItem")},
        "query": {Need("dynamodb:Query")},
        "due_page": {Need("dynamodb:Query", "index/ByDueTime")},
        "delete_all": {Need("dynamodb:BatchWriteItem")},
        "update_returning": {Need("dynamodb:UpdateItem")},
        "write": None,
        "transact": None,
    }
    assert {k: store.get(k, "absent") for k in expected} == expected
    sends = {name for name, needs in store.items() if needs is None}
    assert sends >= {"write", "transact"}, sends
    # Every kind of write the store can send has its action.
    ops = analysis().program.enums["Op"]
    assert ops and set(ops) <= set(iam_walk.OP_ACTIONS), f"Op variants without an IAM action: {ops}"


def test_the_walk_finds_what_the_code_is_known_to_do():
    """An analyser that finds nothing (or loses a known path) cannot pass the tests above."""
    fns = analysis().functions
    walker = analysis().walker
    program = analysis().program
    # The write constructors: Write::put/update/delete build Op values needing these actions.
    for ctor, action in [("put", "PutItem"), ("update", "UpdateItem"), ("delete", "DeleteItem")]:
        (f,) = program.by_owner["Write"][ctor]
        needs, _, _ = walker.walk([f])
        assert set(needs) == {Need(f"dynamodb:{action}")}, (ctor, needs)

    signup = fns["signup"]
    assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= signup.actions()
    assert "transact" in signup.store_calls  # the signup's writes go in one TransactWriteItems
    assert "Write::put" in signup.needs[Need("dynamodb:PutItem")]

    sweep = fns["lifecycle-sweep"]
    assert Need("dynamodb:Query", "index/ByDueTime") in sweep.needs
    assert "Store::delete_all" in sweep.needs[Need("dynamodb:BatchWriteItem")]  # purge, published events

    # A payment that brings an overdue deletion purges the claims: a Write::delete inside
    # update_account -> Accounts::commit -> Accounts::change_writes.
    renewal = fns["renewal"]
    chain = renewal.needs[Need("dynamodb:DeleteItem")]
    assert {"ops::update_account", "Accounts::change_writes", "Write::delete"} <= set(chain), chain

    # Every function today reads the table and sends mail through the outbox.
    for binary in ("signup", "accounts", "renewal", "submit-form", "lifecycle-sweep"):
        assert {"dynamodb:GetItem", "ses:SendEmail"} <= fns[binary].actions(""), binary


def test_the_walk_is_fast():
    import time
    start = time.perf_counter()
    iam_walk.analyse()
    assert time.perf_counter() - start < 3


def test_the_lexer_hides_comments_and_string_contents_but_keeps_offsets():
    src = 'let s = "fn x() {"; // fn y() {\n/* fn z( /* nested */ */ let c = \'{\'; let l: &\'a str = r#"}"#; ok()'
    blanked = iam_walk.blank_comments_and_strings(src)
    assert len(blanked) == len(src)
    assert "fn" not in blanked and "{" not in blanked and "}" not in blanked, blanked
    assert "&'a str" in blanked and "ok()" in blanked and blanked.count("\n") == 1
