#!/usr/bin/env bash
# Every check, against the local stack: starts the stack (or reuses a running one), runs each
# step, stops what it started even on failure, exits non-zero if any step failed.
# Add a step with: step "what it checks" command args...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.tools/venv/bin/python"
export PATH="$ROOT/.tools/venv/bin:$PATH"

# infra/local.env, exported; variables already set (e.g. by make) win.
while IFS= read -r line || [[ -n "$line" ]]; do
  [[ "$line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
  key="${BASH_REMATCH[1]}" value="${BASH_REMATCH[2]}"
  [[ -n "${!key+x}" ]] || export "$key=$value"
done < infra/local.env

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
  pytest tests -q || rc=$?
  (( rc == 5 )) && { echo "pytest collected no tests"; return 0; }
  return "$rc"
}

"$PY" infra/stack.py up

step "cargo test --workspace" cargo test --workspace
step "cfn-lint template.yaml" cfn-lint template.yaml
step "pytest tests" pytest_if_any

echo
if (( ${#failed[@]} )); then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all checks passed"
