#!/usr/bin/env python3
"""Prepares the local stack's data: the table (as template.yaml declares it), the SES sender,
the implementation partners.

    bootstrap.py create-table [--table NAME]
    bootstrap.py drop-table --table NAME
    bootstrap.py verify-sender
    bootstrap.py seed [--table NAME] [--file infra/seed/partners.json]
    bootstrap.py add-partner --id ID --name NAME --email ADDR --countries US,CA
                             [--products a,b] [--not-certified] [--replace] [--table NAME]

Endpoints, credentials and names come from the environment, filled from infra/local.env
(variables already set win). Run with .tools/venv/bin/python (boto3, PyYAML).
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
COUNTRY = re.compile(r"^[A-Z]{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def partner_item(p: dict[str, Any]) -> dict[str, Any]:
    """A partner as a DynamoDB item (low-level attribute values), after checking its fields."""
    pid, name, email = str(p["id"]).strip(), str(p["name"]).strip(), str(p["email"]).strip()
    countries = [c.strip().upper() for c in p["countries"] if c.strip()]
    products = [x.strip() for x in p.get("products", []) if x.strip()]
    certified = bool(p.get("certified", True))
    last_sent_at = int(p.get("last_sent_at", 0))
    problems = []
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", pid):
        problems.append("id: lowercase letters, digits and hyphens")
    if not name:
        problems.append("name: required")
    if not EMAIL.match(email):
        problems.append("email: not an address")
    if not countries or not all(COUNTRY.match(c) for c in countries):
        problems.append("countries: one or more ISO 3166-1 alpha-2 codes")
    if problems:
        raise SystemExit(f"partner {pid!r}: " + "; ".join(problems))
    return {
        "PK": {"S": "PARTNERS"},
        "SK": {"S": f"PARTNER#{pid}"},
        "entity": {"S": "partner"},
        "id": {"S": pid},
        "name": {"S": name},
        "email": {"S": email},
        "countries": {"L": [{"S": c} for c in countries]},
        "products": {"L": [{"S": x} for x in products]},
        "certified": {"BOOL": certified},
        "last_sent_at": {"N": str(last_sent_at)},
    }


def seed(table: str, file: Path) -> None:
    partners = json.loads(file.read_text(encoding="utf-8"))
    client = dynamodb()
    for p in partners:
        client.put_item(TableName=table, Item=partner_item(p))
    print(f"table {table}: {len(partners)} partners written from {file}")
    # A table without accounts has nobody to tell that the Terms changed: the current version's
    # "Terms updated" rollout (§1.4, done by the sweep) is recorded as done. With accounts in it,
    # the sweep does the rollout.
    shards = int(os.environ.get("DUE_SHARDS", "4"))
    has_accounts = any(
        client.query(TableName=table, IndexName="ByDueTime", KeyConditionExpression="DuePK = :p",
                     ExpressionAttributeValues={":p": {"S": f"DUE#{n}"}}, Limit=1)["Items"]
        for n in range(shards))
    if has_accounts:
        return
    version = os.environ.get("TERMS_VERSION", "2021-11-01")
    try:
        client.put_item(
            TableName=table,
            Item={"PK": {"S": f"TERMS#{version}"}, "SK": {"S": "ROLLOUT"}, "entity": {"S": "terms_rollout"},
                  "done": {"BOOL": True}, "shard": {"N": "0"}},
            ConditionExpression="attribute_not_exists(PK)")  # never undo a rollout in progress
    except ClientError as e:
        if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def add_partner(table: str, args: argparse.Namespace) -> None:
    item = partner_item({
        "id": args.id, "name": args.name, "email": args.email,
        "countries": args.countries.split(","),
        "products": args.products.split(",") if args.products else [],
        "certified": not args.not_certified, "last_sent_at": 0,
    })
    request: dict[str, Any] = {"TableName": table, "Item": item}
    if not args.replace:
        request["ConditionExpression"] = "attribute_not_exists(PK)"
    try:
        dynamodb().put_item(**request)
    except ClientError as e:
        if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise SystemExit(f"partner {args.id} exists (use --replace to overwrite)") from None
        raise
    print(f"table {table}: partner {args.id} written")


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

    args = parser.parse_args(argv[1:])
    if getattr(args, "table", "x") is None:
        parser.error("--table is required (or set TABLE_NAME)")
    if args.command == "create-table":
        create_table(args.table)
    elif args.command == "drop-table":
        drop_table(args.table)
    elif args.command == "verify-sender":
        verify_sender()
    elif args.command == "seed":
        seed(args.table, args.file)
    elif args.command == "add-partner":
        add_partner(args.table, args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
