#!/usr/bin/env python3
"""Prepares the local stack's data: the table (as template.yaml declares it), the SES sender,
the implementation partners.

    bootstrap.py create-table [--table NAME]
    bootstrap.py drop-table --table NAME
    bootstrap.py verify-sender
    bootstrap.py seed [--table NAME] [--file infra/seed/partners.json]
    bootstrap.py add-partner --id ID --name NAME --email ADDR --countries US,CA
                             [--products a,b] [--not-certified] [--replace] [--table NAME]
    bootstrap.py register-webhook --url URL   (localstripe posts payment events there, signed)

Endpoints, credentials and names come from the environment, filled from infra/local.env
(variables already set win). Run with .tools/venv/bin/python (boto3, PyYAML).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import localenv  # noqa: E402

import boto3  # noqa: E402
import yaml  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

TEMPLATE = localenv.ROOT_DIR / "template.yaml"
PARTNERS = localenv.INFRA_DIR / "seed" / "partners.json"


# ---------------------------------------------------------------- template

class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation short-form tags (!Ref, !Sub, !GetAtt, ...)."""


def _cfn_tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(template: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as data, its CloudFormation tags kept as `Ref` / `Fn::*` maps."""
    with open(template, encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def table_properties(template: Path = TEMPLATE) -> dict[str, Any]:
    doc = load_template(template)
    tables = [r for r in doc.get("Resources", {}).values()
              if r.get("Type") == "AWS::DynamoDB::Table"]
    if len(tables) != 1:
        raise SystemExit(f"{template}: expected one AWS::DynamoDB::Table, found {len(tables)}")
    return tables[0]["Properties"]


# ---------------------------------------------------------------- clients

def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def dynamodb():
    return boto3.client("dynamodb", region_name=region(),
                        endpoint_url=localenv.require("AWS_ENDPOINT_URL_DYNAMODB"))


def ses():
    return boto3.client("ses", region_name=region(),
                        endpoint_url=localenv.require("AWS_ENDPOINT_URL_SES"))


# ---------------------------------------------------------------- commands

def create_table(table: str) -> None:
    props = table_properties()
    client = dynamodb()
    request: dict[str, Any] = {
        "TableName": table,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    try:
        client.create_table(**request)
        print(f"table {table}: created")
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise
        print(f"table {table}: exists")
    client.get_waiter("table_exists").wait(TableName=table,
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        try:
            current = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                client.update_time_to_live(TableName=table, TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"], "Enabled": True})
            print(f"table {table}: TTL on {ttl['AttributeName']} (not enforced by DynamoDB Local)")
        except ClientError as e:  # an emulator without TTL support: TTL only cleans up anyway
            print(f"table {table}: TTL not set ({e.response['Error']['Code']})")
    print(f"table {table}: ACTIVE")


def drop_table(table: str) -> None:
    client = dynamodb()
    try:
        client.delete_table(TableName=table)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        print(f"table {table}: absent")
        return
    client.get_waiter("table_not_exists").wait(TableName=table,
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    print(f"table {table}: deleted")


def verify_sender() -> None:
    sender = localenv.require("MAIL_FROM")
    client = ses()
    client.verify_email_identity(EmailAddress=sender)
    status = client.get_identity_verification_attributes(Identities=[sender])[
        "VerificationAttributes"].get(sender, {}).get("VerificationStatus", "unknown")
    print(f"sender {sender}: verified with SES at {os.environ['AWS_ENDPOINT_URL_SES']} ({status})")


def event_bus(bus: str, queue: str) -> str:
    """The product's side of the events, locally: the custom bus, an SQS queue, and a rule that
    copies every `saas.accounts` event to it (moto's EventBridge and SQS). Idempotent; the queue URL."""
    endpoint = localenv.require("AWS_ENDPOINT_URL_EVENTBRIDGE")
    events = boto3.client("events", region_name=region(), endpoint_url=endpoint)
    sqs = boto3.client("sqs", region_name=region(), endpoint_url=localenv.require("AWS_ENDPOINT_URL_SQS"))
    if bus not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]:
        events.create_event_bus(Name=bus)
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"{bus}-to-{queue}"
    events.put_rule(Name=rule, EventBusName=bus, EventPattern='{"source": ["saas.accounts"]}')
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "product", "Arn": arn}])
    print(f"event bus {bus}: every saas.accounts event goes to {url}")
    return url


# Each secret the functions read from Secrets Manager: the variable naming it (its ARN on AWS,
# its name locally) and the local.env variable holding its local value.
SECRETS = {
    "TOKEN_SECRET_ARN": "TOKEN_SECRET",
    "RATE_KEY_ARN": "RATE_KEY",
    "SERVICE_KEY_ARN": "SERVICE_KEY",
    "OPERATOR_KEY_ARN": "OPERATOR_KEY",
    "STRIPE_SECRET_KEY_ARN": "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET_ARN": "STRIPE_WEBHOOK_SECRET",
}


def seed_secrets() -> None:
    """The local values of local.env into moto's Secrets Manager, under the names the functions
    are given (idempotent: an existing secret gets the value again)."""
    sm = boto3.client("secretsmanager", region_name=region(),
                      endpoint_url=localenv.require("AWS_ENDPOINT_URL_SECRETS_MANAGER"))
    for id_var, value_var in SECRETS.items():
        name, value = localenv.require(id_var), localenv.require(value_var)
        try:
            sm.create_secret(Name=name, SecretString=value)
        except sm.exceptions.ResourceExistsException:
            sm.put_secret_value(SecretId=name, SecretString=value)
    print(f"secrets: {len(SECRETS)} in Secrets Manager at {os.environ['AWS_ENDPOINT_URL_SECRETS_MANAGER']}")


def saasctl(*args: str) -> None:
    """Runs the Rust operator tool (built on demand): partners are parsed and written, and the
    Terms rollout marker kept, by the same code the functions use, never re-implemented here."""
    cmd = ["cargo", "run", "-q", "--locked", "-p", "saasctl", "--", *args]
    subprocess.run(cmd, cwd=localenv.ROOT_DIR, check=True)


def seed(table: str, file: Path) -> None:
    saasctl("seed-partners", "--table", table, "--file", str(file))
    # A table without accounts has nobody to tell that the Terms changed (§1.4).
    saasctl("terms-done-if-empty", "--table", table)


def add_partner(table: str, args: argparse.Namespace) -> None:
    partner = {
        "id": args.id, "name": args.name, "email": args.email,
        "countries": [c for c in args.countries.split(",") if c.strip()],
        "products": [x for x in args.products.split(",") if x.strip()],
        "certified": not args.not_certified,
    }
    saasctl("add-partner", "--table", table, *(["--replace"] if args.replace else []), json.dumps(partner))


def register_webhook(url: str) -> None:
    """Registers a webhook endpoint with localstripe (kept in its memory: again after a restart),
    signed with STRIPE_WEBHOOK_SECRET, for the two PaymentIntent events the renewal function uses."""
    import urllib.parse
    import urllib.request
    base = localenv.require("STRIPE_API_BASE")
    form = [("url", url), ("secret", localenv.require("STRIPE_WEBHOOK_SECRET")),
            ("events[]", "payment_intent.succeeded"), ("events[]", "payment_intent.payment_failed")]
    req = urllib.request.Request(f"{base}/_config/webhooks/dev", urllib.parse.urlencode(form).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200, resp.status
    print(f"localstripe at {base}: payment events are posted to {url}")


def main(argv: list[str]) -> int:
    localenv.load()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    default_table = os.environ.get("TABLE_NAME")

    p = sub.add_parser("create-table", help="create the table as template.yaml declares it")
    p.add_argument("--table", default=default_table)
    p = sub.add_parser("drop-table", help="delete a table")
    p.add_argument("--table", required=True)
    sub.add_parser("verify-sender", help="verify MAIL_FROM with the SES emulator")
    sub.add_parser("seed-secrets", help="put local.env's keys into the Secrets Manager emulator")
    p = sub.add_parser("seed", help="write the implementation partners")
    p.add_argument("--table", default=default_table)
    p.add_argument("--file", type=Path, default=PARTNERS)
    p = sub.add_parser("add-partner", help="write one implementation partner")
    p.add_argument("--table", default=default_table)
    p.add_argument("--id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--countries", required=True, help="comma-separated ISO alpha-2, e.g. US,CA")
    p.add_argument("--products", default="", help="comma-separated; empty = every product")
    p.add_argument("--not-certified", action="store_true")
    p.add_argument("--replace", action="store_true", help="overwrite an existing partner")
    p = sub.add_parser("register-webhook", help="have localstripe post payment events to a URL")
    p.add_argument("--url", required=True)
    p = sub.add_parser("event-bus", help="create the events bus, the product's queue and the rule between")
    p.add_argument("--bus", default=os.environ.get("EVENT_BUS_NAME"))
    p.add_argument("--queue", default=os.environ.get("PRODUCT_EVENTS_QUEUE", "").rsplit("/", 1)[-1])

    args = parser.parse_args(argv[1:])
    if getattr(args, "table", "x") is None:
        parser.error("--table is required (or set TABLE_NAME)")
    if args.command == "create-table":
        create_table(args.table)
    elif args.command == "drop-table":
        drop_table(args.table)
    elif args.command == "verify-sender":
        verify_sender()
    elif args.command == "seed-secrets":
        seed_secrets()
    elif args.command == "seed":
        seed(args.table, args.file)
    elif args.command == "add-partner":
        add_partner(args.table, args)
    elif args.command == "register-webhook":
        register_webhook(args.url)
    elif args.command == "event-bus":
        event_bus(args.bus, args.queue)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
