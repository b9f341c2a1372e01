#!/usr/bin/env bash
# Every check, against the local stack: starts the stack (or reuses a running one), runs each
# step, stops what it started even on failure, exits non-zero if any step failed.
# Add a step with: step "what it checks" command args...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.tools/venv/bin/python"
export PATH="$ROOT/.tools/venv/bin:$PATH"

# infra/local.env, exported by its one reader; variables already set (e.g. by make) win.
eval "$(python3 infra/localenv.py sh)"

# Tear down only what this run started (`STACK_SESSION`, see infra/stack.py): a stack that
# `make dev` or another run started is left running.
export STACK_SESSION="${STACK_STATE_DIR:-$ROOT/.stack}/test-$$.session"
mkdir -p "$(dirname "$STACK_SESSION")"
teardown() {
  local rc=$?
  "$PY" infra/stack.py down || rc=1
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

failed=()
step() {
  local name="$1"; shift
  echo
  echo "==> $name"
  local started=$SECONDS rc=0
  "$@" || rc=$?
  if (( rc == 0 )); then
    echo "<== $name: ok ($((SECONDS - started)) s)"
  else
    echo "<== $name: FAILED with $rc ($((SECONDS - started)) s)"
    failed+=("$name")
  fi
}

pytest_if_any() {
  compgen -G "tests/*.py" > /dev/null || { echo "no tests/*.py yet"; return 0; }
  local rc=0
  pytest tests -q --ignore tests/test_races.py || rc=$?
  (( rc == 5 )) && { echo "pytest collected no tests"; return 0; }
  return "$rc"
}

"$PY" infra/stack.py up

step "cargo fmt --check" cargo fmt --all --check
step "source files of 500 lines or fewer" python3 infra/source_size.py
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test --workspace" cargo test --workspace --locked
step "cfn-lint template.yaml" cfn-lint template.yaml
# Offline: .checkov.yaml turns off downloads and names every skipped check with its reason; the
# version check against PyPI is switched off only by the environment.
step "checkov (offline)" env CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$ROOT/.tools/checkov/bin/checkov" --config-file .checkov.yaml
step "pytest tests" pytest_if_any
# Races run as separate function processes released together; -s prints each race's overlap.
step "race tests (separate processes, in flight together)" pytest tests/test_races.py -q -s -p no:cacheprovider

echo
if (( ${#failed[@]} )); then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all checks passed"
