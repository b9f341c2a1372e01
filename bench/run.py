#!/usr/bin/env python3
"""`make bench`: release builds of every function measured on the local stack.

Measures, and prints as one markdown table (stdout, and bench/latest.md):
  1. cold start per function: process spawn -> its first `GET /runtime/invocation/next`, against a
     stub of the Lambda Runtime API (bench/runtime_stub.py); median and p90 of BENCH_STARTS starts
  2. DynamoDB requests per operation (signup, sign-in, payment webhook, implementation request):
     the function's own `ddb_requests=` log line, and the requests seen on the wire by a counting
     proxy in front of DynamoDB Local (bench/ddb_proxy.py), with the capacity units it reports
  3. the sweep at 1k, 10k and 100k accounts with the same due set: requests, items read,
     due accounts per second; and, on rows of its own, the one-time Terms rollout pass that the
     first sweep of a table makes over every account
  4. peak memory (VmHWM) of each function process over its runs
  5. zip size per function (`cargo lambda build --release --output-format zip`)

Settings (environment, see bench/README.md): BENCH_ARM64=1 (zips for arm64; a host
`cargo build --release` then runs the measurements), BENCH_SHIPPING_PROFILE=1, BENCH_SKIP_BUILD=1,
BENCH_STARTS (20), BENCH_SIZES (1000,10000,100000), BENCH_DUE (50), BENCH_REPS (5).
Progress goes to stderr. Run with .tools/venv/bin/python (boto3); `make bench` does.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "infra"))
sys.path.insert(0, str(BENCH))
import localenv  # noqa: E402

localenv.load()

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402

from ddb_proxy import DynamoProxy, summarize  # noqa: E402
from runtime_stub import FunctionProcess  # noqa: E402

VENV_BIN = ROOT / ".tools" / "venv" / "bin"
PY = str(VENV_BIN / "python")
CARGO_LAMBDA = str(VENV_BIN / "cargo-lambda")
FUNCTIONS = ["signup", "accounts", "renewal", "submit-form", "lifecycle-sweep"]

ARM64 = os.environ.get("BENCH_ARM64", "") not in ("", "0")
STARTS = int(os.environ.get("BENCH_STARTS", "20"))
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "1000,10000,100000").split(",") if x.strip()]
DUE = int(os.environ.get("BENCH_DUE", "50"))
REPS = int(os.environ.get("BENCH_REPS", "5"))
SHARDS = int(os.environ.get("DUE_SHARDS", "4"))
FAR_FUTURE = int(datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp())
# Every request of the bench happens at chosen event times (SPEC: Time), starting here.
T0 = datetime(2031, 3, 2, 9, 0, tzinfo=timezone.utc)
RUN_ID = uuid.uuid4().hex[:8]
SES_PROXY: DynamoProxy | None = None  # counts and times the functions' SES calls
STARTED = time.monotonic()
LOAD_AT_START = " ".join(f"{x:.1f}" for x in os.getloadavg())


def log(msg: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


def ddb():
    return boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
                        config=BotoConfig(max_pool_connections=32, retries={"max_attempts": 10}))


def fn_env(table_name: str, proxy: DynamoProxy) -> dict[str, str]:
    """What differs from the local settings for a function process: its table, and both AWS
    endpoints pointing at the counting proxies."""
    env = {"TABLE_NAME": table_name, "AWS_ENDPOINT_URL_DYNAMODB": proxy.url}
    if SES_PROXY is not None:
        env["AWS_ENDPOINT_URL_SES"] = SES_PROXY.url
    return env


def bootstrap(*args: str) -> None:
    subprocess.run([PY, str(ROOT / "infra" / "bootstrap.py"), *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- build

def host_arch() -> str:
    m = platform.machine()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m)


TRIPLE = {"x86_64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu"}


def build() -> tuple[str, dict[str, Path], dict[str, int | None], float, str]:
    """Release zips with cargo-lambda, and the host binaries the measurements run. When the zip is
    for the host's architecture, its own binaries are measured (one build); otherwise a plain
    `cargo build --release --workspace` provides them.

    By default the zips use the workspace's `[profile.release]` (`--disable-optimizations`), the
    profile `cargo build --release` uses. BENCH_SHIPPING_PROFILE=1 builds as `make package` does,
    with cargo-lambda's own release settings on top (codegen-units=1, panic=abort, target-cpu):
    smaller binaries, but a first build of about 19 minutes on 2 cores."""
    arch = "arm64" if ARM64 else host_arch()
    shipping = os.environ.get("BENCH_SHIPPING_PROFILE", "") not in ("", "0")
    profile = ("cargo-lambda release settings (as `make package`)" if shipping
               else "workspace [profile.release] (cargo-lambda --disable-optimizations)")
    lambda_dir = ROOT / "target" / "lambda-bench" / arch
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    cmd = [CARGO_LAMBDA, "lambda", "build", "--release", "--arm64" if arch == "arm64" else "--x86-64",
           "--output-format", "zip", "--lambda-dir", str(lambda_dir)]
    if not shipping:
        cmd.append("--disable-optimizations")
    t = time.monotonic()
    if os.environ.get("BENCH_SKIP_BUILD", "") in ("", "0"):
        log(f"building release zips for {arch}: cargo {' '.join(cmd[1:])} (the first build takes minutes)")
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=sys.stderr)
    else:
        log("BENCH_SKIP_BUILD: measuring the binaries and zips already built")
    if arch == host_arch():
        bins = {f: ROOT / "target" / TRIPLE[arch] / "release" / f for f in FUNCTIONS}
    else:
        if os.environ.get("BENCH_SKIP_BUILD", "") in ("", "0"):
            log("building host release binaries: cargo build --release --workspace")
            subprocess.run(["cargo", "build", "--release", "--workspace"], cwd=ROOT, env=env, check=True,
                           stdout=sys.stderr)
        bins = {f: ROOT / "target" / "release" / f for f in FUNCTIONS}
    build_s = time.monotonic() - t
    zips = {}
    for f in FUNCTIONS:
        z = lambda_dir / f / "bootstrap.zip"
        zips[f] = z.stat().st_size if z.exists() else None
    for b in bins.values():
        if not b.exists():
            raise SystemExit(f"{b} missing after the build")
    log(f"build step done in {build_s:.0f}s")
    return arch, bins, zips, build_s, profile


# ---------------------------------------------------------------- the stack

class Stack:
    """`infra/stack.py up` in a session of its own, and `down` for what that session started."""

    def __enter__(self) -> "Stack":
        # This run's session: `down` at the end stops only what this `up` started.
        os.environ["STACK_SESSION"] = str(ROOT / ".stack" / f"bench-{os.getpid()}.session")
        (ROOT / ".stack").mkdir(exist_ok=True)
        subprocess.run([PY, str(ROOT / "infra" / "stack.py"), "up"], check=True, cwd=ROOT, stdout=sys.stderr)
        bootstrap("verify-sender")
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run([PY, str(ROOT / "infra" / "stack.py"), "down"], cwd=ROOT, stdout=sys.stderr)


@contextlib.contextmanager
def table(prefix: str, seed: bool = False):
    name = f"bench-{prefix}-{RUN_ID}"
    bootstrap("create-table", "--table", name)
    if seed:
        bootstrap("seed", "--table", name)
    try:
        yield name
    finally:
        try:
            bootstrap("drop-table", "--table", name)
        except subprocess.CalledProcessError:
            log(f"could not drop table {name}")


# ---------------------------------------------------------------- events

def http_event(when: datetime, method: str, path: str, body: str | None, headers: dict | None = None) -> dict:
    hdrs = {"content-type": "application/json", "user-agent": "bench/1.0"}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": hdrs, "isBase64Encoded": False, "body": body,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.local",
            "domainPrefix": "bench", "requestId": uuid.uuid4().hex, "routeKey": "$default",
            "stage": "$default", "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(when.timestamp() * 1000),
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "198.51.100.77", "userAgent": hdrs["user-agent"]},
        },
    }


def schedule_event(when: datetime) -> dict:
    return {"version": "0", "id": uuid.uuid4().hex, "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012",
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"], "detail": {}}


def signed_webhook(when: datetime, body: dict) -> tuple[str, dict]:
    raw = json.dumps(body)
    t = int(when.timestamp())
    sig = hmac.new(os.environ["WEBHOOK_SECRET"].encode(), f"{t}.{raw}".encode(), hashlib.sha256).hexdigest()
    return raw, {"billing-signature": f"t={t},v1={sig}"}


# ---------------------------------------------------------------- 1. cold starts

def cold_starts(bins: dict[str, Path], env: dict[str, str]) -> dict[str, dict]:
    out = {}
    for f in FUNCTIONS:
        with FunctionProcess(bins[f], f, env) as fp:  # not counted: loads the binary into the page cache
            fp.ready()
        times = []
        for _ in range(STARTS):
            with FunctionProcess(bins[f], f, env) as fp:
                times.append(fp.ready() * 1000)
        times.sort()
        out[f] = {"median": statistics.median(times), "p90": times[max(0, int(round(0.9 * len(times))) - 1)],
                  "min": times[0], "max": times[-1], "n": len(times)}
        log(f"cold start {f}: median {out[f]['median']:.1f} ms, p90 {out[f]['p90']:.1f} ms over {len(times)}")
    return out


# ---------------------------------------------------------------- 2. requests per operation

def logged_requests(logs: list[str]) -> int | None:
    for line in logs:
        if "ddb_requests=" in line:
            return int(line.split("ddb_requests=", 1)[1].split()[0].strip(",}\""))
    return None


def measure_ops(bins: dict[str, Path], proxy: DynamoProxy) -> tuple[dict, dict, dict]:
    """Signs up REPS accounts, signs each in, pays for each, submits REPS implementation requests.
    Returns per-operation results, peak RSS per function, and one account's META item."""
    ops: dict[str, list[dict]] = {k: [] for k in ("signup", "sign-in", "payment webhook", "implementation request")}
    peak: dict[str, int | None] = {}
    template = None
    with table("ops", seed=True) as name, contextlib.ExitStack() as es:
        env = fn_env(name, proxy)
        fns = {f: es.enter_context(FunctionProcess(bins[f], f, env))
               for f in ("signup", "accounts", "renewal", "submit-form")}
        for fp in fns.values():
            fp.ready()

        def run(op: str, fn: str, event: dict, want: int, log_marker: str) -> dict:
            mark, ses_mark = proxy.mark(), SES_PROXY.mark() if SES_PROXY else 0
            inv = fns[fn].invoke(event, timeout=120, wait_log=log_marker)
            if inv.error or not isinstance(inv.payload, dict) or inv.payload.get("statusCode") != want:
                raise RuntimeError(f"{op}: expected {want}, got {inv.payload}\n" + "\n".join(inv.logs[-10:]))
            wire = summarize(proxy.since(mark))
            rec = {"logged": logged_requests(inv.logs), "ms": inv.seconds * 1000, **wire,
                   "ses_calls": len(SES_PROXY.since(ses_mark)) if SES_PROXY else None}
            ops[op].append(rec)
            return json.loads(inv.payload.get("body") or "null")

        for i in range(REPS):
            t = T0 + timedelta(hours=i)
            domain, email = f"bench-{RUN_ID}-{i}", f"admin-{RUN_ID}-{i}@bench.example.com"
            body = {"company": "Bench Ltd", "domain": domain, "first_name": "Ada", "last_name": "Lovelace",
                    "email": email, "password": "correct horse battery", "country": "DE",
                    "accept_terms": True, "terms_version": os.environ.get("TERMS_VERSION", "2021-11-01"),
                    "legal_age": True}
            acct = run("signup", "signup", http_event(t, "POST", "/signup", json.dumps(body)), 201,
                       "ddb_requests=")["account_id"]
            if template is None:
                template = ddb().get_item(TableName=name, ConsistentRead=True,
                                          Key={"PK": {"S": f"ACCOUNT#{acct}"}, "SK": {"S": "META"}})["Item"]
            run("sign-in", "accounts", http_event(t + timedelta(minutes=1), "POST", "/sign-in", json.dumps(
                {"domain": domain, "email": email, "password": "correct horse battery"})), 200, "ddb_requests=")
            wt = t + timedelta(minutes=2)
            raw, hdrs = signed_webhook(wt, {"id": f"evt-{RUN_ID}-{i}", "type": "payment.succeeded",
                                            "account_id": acct, "plan": "standard", "months": 1,
                                            "amount": 9900, "tax": 0, "currency": "USD"})
            run("payment webhook", "renewal", http_event(wt, "POST", "/billing/webhook", raw, hdrs), 200,
                "ddb_requests=")
            form = {"first_name": "Ada", "last_name": "Lovelace", "email": f"lead-{RUN_ID}-{i}@bench.example.com",
                    "phone": "+1 555 010 2030", "country": "US", "region": "Boston, MA", "product": "cloud",
                    "request": "A CRM for 40 people", "privacy": "I accept"}
            run("implementation request", "submit-form",
                http_event(t + timedelta(minutes=3), "POST", "/forms/implementation-request", json.dumps(form)),
                201, "ddb_requests=")
            log(f"operations: round {i + 1}/{REPS} done")
        for f, fp in fns.items():
            peak[f] = fp.peak_rss_kib()
    return ops, peak, template


# ---------------------------------------------------------------- 3. the sweep at scale

def fnv1a(s: str) -> int:
    h = 0x811C9DC5
    for b in s.encode():
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def clone(template: dict, account_id: str, n: int, due_at: int) -> dict:
    """The signed-up account's META item with a new id, domain, administrator and due time: the
    same serde_dynamo shape the functions write."""
    item = dict(template)
    domain, email = f"sweep-{n}", f"admin-{n}@sweep.example.com"
    item["PK"] = {"S": f"ACCOUNT#{account_id}"}
    item["id"] = {"S": account_id}
    item["domain"] = {"S": domain}
    item["admins"] = {"L": [{"S": email}]}
    item["DuePK"] = {"S": f"DUE#{fnv1a(account_id) % max(SHARDS, 1)}"}
    item["DueAt"] = {"N": str(due_at)}
    return item


def load(name: str, items_iter, total: int) -> float:
    client = ddb()
    t = time.monotonic()

    def write(batch: list[dict]) -> None:
        req = {name: [{"PutRequest": {"Item": it}} for it in batch]}
        delay = 0.05
        while req:
            req = client.batch_write_item(RequestItems=req).get("UnprocessedItems") or {}
            if req:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def batches():
        batch = []
        for it in items_iter:
            batch.append(it)
            if len(batch) == 25:
                yield batch
                batch = []
        if batch:
            yield batch

    done = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in pool.map(write, batches()):
            done += 25
            if done % 20000 == 0:
                log(f"  loaded {done}/{total}")
    return time.monotonic() - t


def run_sweep(bin_path: Path, proxy: DynamoProxy, name: str, when: datetime) -> dict:
    """One scheduled event to a fresh sweep process; its summary, the wire view, time and peak RSS."""
    env = fn_env(name, proxy)
    with FunctionProcess(bin_path, "lifecycle-sweep", env) as fp:
        fp.ready()
        mark, ses_mark = proxy.mark(), SES_PROXY.mark() if SES_PROXY else 0
        inv = fp.invoke(schedule_event(when), timeout=900, wait_log="sweep done")
        wire = summarize(proxy.since(mark))
        wire["ses"] = summarize(SES_PROXY.since(ses_mark)) if SES_PROXY else None
        rss = fp.peak_rss_kib()
    if inv.error or not isinstance(inv.payload, dict):
        raise RuntimeError(f"sweep failed: {inv.payload}\n" + "\n".join(inv.logs[-10:]))
    return {"summary": inv.payload, "wire": wire, "seconds": inv.seconds, "rss": rss}


def sweep_at_scale(bins: dict[str, Path], proxy: DynamoProxy, template: dict) -> list[dict]:
    """Per size: a fresh table with the same DUE accounts due and the rest idle (DueAt in 2100).
    A first sweep, before anything is due, runs the one-time Terms rollout (§1.4: it pages through
    the whole index once per Terms version, then leaves a done marker); the measured sweep follows,
    at a moment when exactly the due set is due."""
    due_at = int(template["DueAt"]["N"])
    created = datetime.fromisoformat(template["created_at"]["S"].replace("Z", "+00:00"))
    rollout_at = created + timedelta(days=1)
    # A Free account with no activity for 30 days is archived (§21.1): one transition and one
    # notice per due account. The due set is the same DUE ids in every table.
    when = created + timedelta(days=30, hours=1)
    if not (rollout_at.timestamp() < due_at <= when.timestamp()):
        raise RuntimeError(f"unexpected DueAt {due_at} for an account created {created}")
    due_ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"bench-due-{k}").hex for k in range(DUE)]
    rows = []
    for size in SIZES:
        with table(f"sweep{size}") as name:
            def items():
                for k, aid in enumerate(due_ids):
                    yield clone(template, aid, k, due_at)
                for k in range(DUE, size):
                    yield clone(template, uuid.uuid5(uuid.NAMESPACE_URL, f"bench-idle-{k}").hex, k, FAR_FUTURE)
            log(f"sweep {size}: loading {size} accounts ({DUE} due) into {name}")
            load_s = load(name, items(), size)
            log(f"sweep {size}: loaded in {load_s:.1f}s; first sweep (Terms rollout) at {rollout_at:%Y-%m-%dT%H:%MZ}")
            first = run_sweep(bins["lifecycle-sweep"], proxy, name, rollout_at)
            f = first["summary"]
            log(f"sweep {size}: rollout read {f.get('items_read')} items in {f.get('ddb_requests')} requests, "
                f"{first['seconds']:.1f}s; measured sweep at {when:%Y-%m-%dT%H:%MZ}")
            r = run_sweep(bins["lifecycle-sweep"], proxy, name, when)
            s = r["summary"]
            rows.append({"size": size, "load_s": load_s, "rollout": first, **r})
            log(f"sweep {size}: due {s.get('due')}, items read {s.get('items_read')}, "
                f"requests {s.get('ddb_requests')} (wire {r['wire']['requests']}), {r['seconds']:.2f}s")
    return rows


# ---------------------------------------------------------------- the table

def mib(kib: int | None) -> str:
    return f"{kib / 1024:.1f} MiB" if kib else "n/a"


def values(xs: list) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "not logged"
    lo, hi = min(xs), max(xs)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def ses_text(ses: dict | None) -> str:
    if not ses or not ses["requests"]:
        return ""
    return f", SES emulator {ses['seconds']:.2f} s ({ses['requests']} calls)"


def ops_text(by_op: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in by_op.items())


def render(arch, profile, zips, build_s, cold, ops, peaks, sweeps, meta) -> str:
    L = []
    L.append(f"Bench of {meta['commit']} on {meta['cpu']} ({meta['cores']} cores, load average "
             f"{meta['load']} at the start), {meta['date']}; local stack (DynamoDB Local, moto SES); "
             f"build step {build_s:.0f} s.")
    L.append("")
    L.append("| measure | function / case | result | detail |")
    L.append("|---|---|---|---|")
    for f in FUNCTIONS:
        c = cold[f]
        L.append(f"| cold start, spawn → first `next` (median / p90) | {f} | {c['median']:.1f} / {c['p90']:.1f} ms "
                 f"| {c['n']} starts, min {c['min']:.1f}, max {c['max']:.1f} ms; {meta['bins']} |")
    for op, recs in ops.items():
        first = recs[0]
        steady = "same every run" if all(r["by_op"] == first["by_op"] for r in recs) else "varies"
        warm = statistics.median(r["ms"] for r in recs[1:]) if len(recs) > 1 else first["ms"]
        L.append(f"| DynamoDB requests per operation (function log / wire) | {op} | "
                 f"{values([r['logged'] for r in recs])} / {values([r['requests'] for r in recs])} | "
                 f"{ops_text(first['by_op'])} ({steady}, {len(recs)} runs); "
                 f"{first['rcu']:g} RCU + {first['wcu']:g} WCU; SES calls {values([r['ses_calls'] for r in recs])}; "
                 f"warm latency median {warm:.0f} ms |")
    same = len({(r["summary"].get("ddb_requests"), r["summary"].get("items_read")) for r in sweeps}) == 1
    for r in sweeps:
        s, w = r["summary"], r["wire"]
        tput = s.get("due", 0) / r["seconds"] if r["seconds"] else 0
        L.append(f"| sweep at {r['size']:,} accounts, {DUE} due | lifecycle-sweep | "
                 f"**{s.get('ddb_requests')} requests, {s.get('items_read')} items read**; "
                 f"{tput:.1f} due accounts/s | "
                 f"wire {w['requests']} ({ops_text(w['by_op'])}), {w['rcu']:g} RCU + {w['wcu']:g} WCU; "
                 f"due {s.get('due')}, transitions {s.get('transitions')}, notices sent {s.get('notices_sent')}; "
                 f"{r['seconds']:.2f} s, of which DynamoDB {w['seconds']:.2f} s{ses_text(w.get('ses'))}; "
                 f"peak {mib(r['rss'])} |")
    if sweeps:
        sizes = ", ".join(f"{r['size']:,}" for r in sweeps)
        L.append(f"| sweep: same requests and items read at every size? | lifecycle-sweep | "
                 f"{'yes' if same else 'NO'} | sizes {sizes} |")
    for r in sweeps:
        s, w = r["rollout"]["summary"], r["rollout"]["wire"]
        L.append(f"| first sweep after a Terms version (one-time rollout, nothing due) at {r['size']:,} accounts "
                 f"| lifecycle-sweep | {s.get('ddb_requests')} requests, {s.get('items_read')} items read | "
                 f"wire {w['requests']} ({ops_text(w['by_op'])}); Terms notices {s.get('terms_notices')}; "
                 f"{r['rollout']['seconds']:.2f} s; peak {mib(r['rollout']['rss'])} |")
    for f in FUNCTIONS:
        how = ("largest of the sweep processes, rollouts included" if f == "lifecycle-sweep"
               else f"one process, over its {REPS} operations")
        L.append(f"| peak memory (VmHWM) | {f} | {mib(peaks.get(f))} | {how} |")
    for f in FUNCTIONS:
        z = zips[f]
        L.append(f"| zip size ({arch}) | {f} | " + (f"{z / 1024 / 1024:.2f} MiB | {z:,} bytes; {profile} |"
                                                  if z else "not built | |"))
    L.append("")
    L.append("Cold start: `AWS_LAMBDA_RUNTIME_API` points at a Python stub; t0 just before spawn, t1 when "
             "the stub receives `next`; one unmeasured start first. Requests: function log = its "
             "`ddb_requests=` line, wire = a counting proxy in front of DynamoDB Local; capacity units "
             "as DynamoDB Local reports them. Sweep accounts beyond the due set are clones of a signed-up "
             "account's META item with `DueAt` in 2100.")
    return "\n".join(L) + "\n"


def machine() -> dict:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "load": LOAD_AT_START, "commit": commit + ("+dirty" if dirty else ""),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def main() -> int:
    arch, bins, zips, build_s, profile = build()
    with Stack(), DynamoProxy(int(os.environ["DYNAMODB_PORT"])) as proxy, \
            DynamoProxy(int(os.environ["SES_PORT"]), inject_capacity=False) as ses:
        global SES_PROXY
        SES_PROXY = ses
        base_env = fn_env(f"bench-cold-{RUN_ID}", proxy)
        log(f"cold starts: {STARTS} per function")
        cold = cold_starts(bins, base_env)
        log(f"operations: {REPS} rounds of signup, sign-in, payment webhook, implementation request")
        ops, peaks, template = measure_ops(bins, proxy)
        sweeps = sweep_at_scale(bins, proxy, template)
        peaks["lifecycle-sweep"] = max((x or 0 for r in sweeps for x in (r["rss"], r["rollout"]["rss"])),
                                       default=0) or None
    meta = machine()
    meta["bins"] = (f"the zip's own {arch} binary" if arch == host_arch()
                    else f"host {host_arch()} `cargo build --release` binary")
    text = render(arch, profile, zips, build_s, cold, ops, peaks, sweeps, meta)
    (BENCH / "latest.md").write_text(text)
    print(text)
    log(f"done; table also in {BENCH / 'latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
