"""Which AWS actions each Lambda function's Rust code can issue, found by reading the sources.

No compiler, no AWS: a small static walk that `tests/test_iam.py` compares with `template.yaml`.

1. Crates. Each function crate (`functions/<f>`, found by its Cargo.toml) is walked together with
   the workspace crates it depends on that can reach an AWS SDK (today `platform`; `domain` and
   `web` have no SDK, so they cannot issue a request and are not read). Only `src/` is read,
   without comments, string contents and test-only items (`#[cfg(test)]`, the `testkit` feature).
2. Items. Every `fn` is cut out with its body (brace matching) and keyed by its impl type or
   module (`Accounts::commit`, `ops::update_account`), with its parameters' and return types;
   `struct` fields, `use` imports and `impl Trait for Type` are noted for the next step.
3. Calls. In a body:
   - `recv.m(` calls `m` of the receiver's type. The type comes from `self`, a parameter, a simple
     `let`, a struct field, a struct literal or the return type of a call in a chain:
     `app.accounts.get(` is `Accounts::get`, `self.store.query(` is `Store::query`,
     `Update::new().set(` is `Update::set`, `mailer.send(` on a `dyn Mailer` is every
     implementation's `send`. A receiver of a type that is not ours (`req.headers().get(`,
     a `HashMap`) calls nothing we walk.
   - `Type::f(` / `module::f(` calls that type's or module's `f` (imports, `crate`, `super` expanded).
   - `f(` calls the free function `f` of the same module, else the one imported under that name.
   A call whose target cannot be pinned down this way (an untyped closure parameter, a match
   binding) is over-approximated: it goes to every method or function of that name the caller
   can see, and is listed in `Analysis.guesses` (extra actions found that way are possible).
4. Actions, from three sources:
   - The store (`Store` in dynamo/store.rs) is a leaf. A store method that takes `Write`s
     (`write`, `transact`) sends what those writes are; any other issues the DynamoDB operations
     its body calls on the SDK client (`get` -> GetItem, `query` -> Query, `delete_all` ->
     BatchWriteItem, ...) on the index its body names with `.index_name(..)`, if any (`due_page`).
   - A write is an `Op::Put/Update/Delete/Check { .. }` value, built by `Write::put` & co. It
     needs PutItem / UpdateItem / DeleteItem / ConditionCheckItem wherever it is sent, alone or
     in TransactWriteItems (IAM checks a transaction's per-item actions, it has no action of its own).
   - Any other call on an AWS SDK client (`aws_sdk_ses::Client::send_email` -> `ses:SendEmail`).

Every path is taken (no feasibility), so an action any path can issue is found; the shortest call
chain to each action is kept as its witness, for the test's messages.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STORE = "Store"  # the type every DynamoDB request goes through
# The Op variants a write can hold, and the IAM action each needs (alone or in a transaction).
OP_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "Check": "dynamodb:ConditionCheckItem",
}
# IAM prefix of an SDK crate (`aws_sdk_<crate>`) where it is not the crate's own name.
IAM_PREFIX = {"eventbridge": "events", "sesv2": "ses", "cloudwatchlogs": "logs"}
# Methods of an SDK client that are not operations.
SDK_NON_OPERATIONS = {"clone", "config", "with_config", "as_ref", "to_owned"}
# Types looked through when typing a value: `Arc<dyn Mailer>` is a `Mailer`, and so (as `?`,
# `let Some(x)` and `.unwrap()` are not tracked) is an `Option<Mailer>` or a `Result<Mailer>`.
WRAPPERS = {"Arc", "Box", "Rc", "Cow", "Pin", "Option", "Result"}
# Methods that hand back (a reference to) what they are called on, for typing a chain.
SAME_TYPE_METHODS = {"clone", "as_ref", "as_mut", "as_deref", "borrow", "deref", "to_owned", "unwrap",
                     "expect", "unwrap_or_default", "unwrap_or", "unwrap_or_else", "map_err", "context",
                     "with_context", "ok_or", "ok_or_else", "ok", "cloned", "copied", "await"}
KEYWORDS = {"if", "while", "match", "return", "for", "in", "loop", "as", "let", "fn", "move", "async",
            "await", "else", "where", "impl", "dyn", "mut", "ref", "pub", "use", "mod", "unsafe", "break"}
TABLE = "table"  # the resource of a need on the table itself; an index's is "index/<name>"


# ------------------------------------------------------------------ lexing

def blank_comments_and_strings(src: str) -> str:
    """`src` with comments and the contents of string and char literals replaced by spaces
    (newlines kept), so braces, `fn` and calls in them are never seen; offsets are unchanged."""
    out = list(src)
    i, n = 0, len(src)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif src.startswith("/*", i):  # block comments nest in Rust
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c == "r" and (m := re.match(r'r(#*)"', src[i:i + 40])) and not _ident_before(src, i):
            end = src.find('"' + m.group(1), i + len(m.group(0)))  # raw string: r#"..."#
            end = n if end < 0 else end
            blank(i + len(m.group(0)), end)
            i = end + 1 + len(m.group(1))
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}'); otherwise a lifetime ('a), left alone.
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i:i + 12])
            if m:
                blank(i + 1, i + len(m.group(0)) - 1)
                i += len(m.group(0))
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def _ident_before(src: str, i: int) -> bool:
    """An identifier character right before `i` (so `r"` there is not a raw string; `br"` is)."""
    if i == 0:
        return False
    p = src[i - 1]
    if p == "b" and (i < 2 or not (src[i - 2].isalnum() or src[i - 2] == "_")):
        return False
    return p.isalnum() or p == "_"


PAIRS = {"{": "}", "(": ")", "[": "]"}


def matching(code: str, open_at: int) -> int:
    """Offset of the bracket closing the one at `open_at` (in blanked code)."""
    o, c, depth = code[open_at], PAIRS[code[open_at]], 0
    for k in range(open_at, len(code)):
        if code[k] == o:
            depth += 1
        elif code[k] == c:
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


def matching_backwards(code: str, close_at: int) -> int:
    """Offset of the bracket opening the one that closes at `close_at`."""
    c = code[close_at]
    o, depth = next(k for k, v in PAIRS.items() if v == c), 0
    for k in range(close_at, -1, -1):
        if code[k] == c:
            depth += 1
        elif code[k] == o:
            depth -= 1
            if depth == 0:
                return k
    return 0


def split_top(text: str, sep: str = ",") -> list[str]:
    """`text` split at `sep` outside (), [], {} and <> (an arrow `->` is not a bracket)."""
    parts, depth, cur = [], 0, []
    for ch in text.replace("->", "\0"):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.replace("\0", "->").strip() for p in parts if p.strip()]


def strip_generics(text: str) -> str:
    """`Foo<Bar<T>>::baz` -> `Foo::baz` (balanced angle brackets removed; `->` kept)."""
    out, depth = [], 0
    for ch in text.replace("->", "\0"):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out).replace("\0", "->")


def blank_range(code: str, a: int, b: int) -> str:
    return code[:a] + re.sub(r"[^\n]", " ", code[a:b]) + code[b:]


# A test-only attribute: `#[cfg(test)]`, `#[cfg(feature = "testkit")]`. Searched in the raw text
# (the blanked code has lost the feature's name), then confirmed in the blanked code, so one
# inside a comment or a string does not count.
TEST_CFG = re.compile(r'#\[cfg\(\s*(?:test|feature\s*=\s*"testkit"|all\(\s*test\b[^\]]*\))\s*\)\]')


def strip_test_items(raw: str, code: str) -> tuple[str, list[str]]:
    """`code` without the items under a test-only attribute; and the names of the modules so
    declared out of line (`#[cfg(test)] mod tests;`), whose files are then not read at all."""
    test_modules = []
    for m in reversed(list(TEST_CFG.finditer(raw))):
        if not code.startswith("#[cfg(", m.start()):
            continue
        k = m.end()
        while k < len(code) and code[k] not in "{;":
            k += 1
        if k >= len(code):
            continue
        if code[k] == ";":
            if mm := re.search(r"\bmod\s+(\w+)\s*$", code[m.end():k]):
                test_modules.append(mm.group(1))
            code = blank_range(code, m.start(), k + 1)
        else:
            code = blank_range(code, m.start(), matching(code, k) + 1)
    return code, test_modules


# ------------------------------------------------------------------ items

@dataclass(frozen=True)
class TypeRef:
    """A value's type: its name (last path segment) and, for an AWS SDK type, its crate (`ses`)."""
    name: str
    sdk: str | None = None


# What the walk knows of a value's type: a TypeRef; False when it is not one of ours (a std, serde
# or domain type, whose methods issue no request); None when unknown.
Type = TypeRef | bool | None


@dataclass
class SourceFile:
    path: Path
    crate: str  # the crate's Rust name (`lifecycle_sweep`)
    module: tuple[str, ...]  # e.g. ("platform", "repo", "accounts")
    code: str  # blanked, without test items
    raw: str
    imports: dict[str, tuple[str, ...]] = field(default_factory=dict)  # alias -> absolute path


@dataclass(eq=False)
class Fn:
    name: str
    owner: str | None  # the impl (or trait) type; None for a free function
    params: dict[str, str]  # name -> type text
    has_self: bool
    ret: str  # return type text ("" for none)
    generics: set[str]  # its type parameters and its impl's (`T` of `fn f<T: Repo>(r: &T)`)
    body: str  # normalized: whitespace around `.` and `::` removed
    line: int
    source: SourceFile

    @property
    def crate(self) -> str:
        return self.source.crate

    @property
    def module(self) -> tuple[str, ...]:
        return self.source.module

    @property
    def label(self) -> str:
        return f"{self.owner}::{self.name}" if self.owner else f"{self.module[-1]}::{self.name}"

    @property
    def where(self) -> str:
        path = self.source.path
        return f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{self.line}"


@dataclass
class Crate:
    name: str  # package name, e.g. "lifecycle-sweep"
    ident: str  # its name in Rust paths, e.g. "lifecycle_sweep"
    dir: Path
    deps: list[str]  # the workspace crates it depends on (package names)
    uses_sdk: bool  # depends on an aws-sdk-* crate itself


def discover_crates(root: Path) -> dict[str, Crate]:
    """Every crate under functions/ and shared/, with its workspace (path) dependencies."""
    ws = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))
    ws_deps = ws.get("workspace", {}).get("dependencies", {})
    crates = {}
    for toml in sorted([*root.glob("functions/*/Cargo.toml"), *root.glob("shared/*/Cargo.toml")]):
        data = tomllib.loads(toml.read_text(encoding="utf-8"))
        name = data["package"]["name"]
        deps = data.get("dependencies", {})

        def is_local(dep: str, spec) -> bool:
            spec = spec if isinstance(spec, dict) else {}
            ws_spec = ws_deps.get(dep)
            return "path" in spec or (isinstance(ws_spec, dict) and "path" in ws_spec)

        crates[name] = Crate(name=name, ident=name.replace("-", "_"), dir=toml.parent,
                             deps=[d for d, spec in deps.items() if is_local(d, spec)],
                             uses_sdk=any(d.startswith("aws-sdk-") for d in deps))
    return crates


def binaries(crate: Crate) -> list[str]:
    """The binaries a crate builds (`[[bin]] name`s, else the package name)."""
    data = tomllib.loads((crate.dir / "Cargo.toml").read_text(encoding="utf-8"))
    return [b["name"] for b in data.get("bin", [])] or [crate.name]


def module_of(src: Path, crate_ident: str, rs: Path) -> tuple[str, ...]:
    parts = list(rs.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod" or (len(parts) == 1 and parts[0] in ("lib", "main")):
        parts = parts[:-1]
    return (crate_ident, *parts)


def expand_relative(path: tuple[str, ...], module: tuple[str, ...], crate_ident: str) -> tuple[str, ...]:
    """`crate::x`, `self::x`, `super::x` as absolute paths."""
    if not path:
        return path
    if path[0] == "crate":
        return (crate_ident, *path[1:])
    if path[0] == "self":
        return (*module, *path[1:])
    base = list(module)
    while path and path[0] == "super":
        base, path = base[:-1], path[1:]
    return (*base, *path) if len(base) < len(module) else path


def parse_use_tree(text: str, prefix: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """`a::{b, c::d@e, self}` (whitespace removed, `as` written `@`) as (alias, path) pairs."""
    if text.endswith("}") and "{" in text:
        head, inner = text[: text.index("{")], text[text.index("{") + 1: -1]
        head_parts = tuple(p for p in head.split("::") if p)
        return [pair for item in split_top(inner) for pair in parse_use_tree(item, prefix + head_parts)]
    if text == "self":
        return [(prefix[-1], prefix)] if prefix else []
    parts = tuple(p for p in text.split("::") if p)
    if parts and "@" in parts[-1]:
        real, alias = parts[-1].split("@")
        return [(alias, prefix + parts[:-1] + (real,))]
    return [(parts[-1], prefix + parts)] if parts else []


def parse_imports(code: str, module: tuple[str, ...], crate_ident: str) -> dict[str, tuple[str, ...]]:
    """Every `use` of a file as alias -> absolute path."""
    imports = {}
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        tree = re.sub(r"(\w+)\s+as\s+(\w+)", r"\1@\2", m.group(1))
        for alias, path in parse_use_tree(re.sub(r"\s+", "", tree).lstrip(":"), ()):
            if alias not in ("*", "_"):
                imports[alias] = expand_relative(path, module, crate_ident)
    return imports


def normalize_body(body: str) -> str:
    """Whitespace around `.` and `::` removed, so a chain split over lines reads as one path."""
    body = re.sub(r"\s*\.\s*(?=[A-Za-z_])", ".", body)
    return re.sub(r"\s*::\s*", "::", body)


def split_params(sig: str) -> tuple[dict[str, str], bool]:
    """The parameters inside a signature's `( ... )` as name -> type text, and whether it takes self."""
    params, has_self = {}, False
    for p in split_top(sig):
        if re.match(r"^(&\s*('\w+\s+)?)?(mut\s+)?self\b", p):
            has_self = True
        elif m := re.match(r"^(?:mut\s+)?(\w+)\s*:\s*(.+)$", p, re.S):
            params[m.group(1)] = m.group(2).strip()
    return params, has_self


# Item-level keywords, at the start of a line (an `impl Trait` argument type is mid-line).
IMPL_RE = re.compile(r"(?m)^[ \t]*(?:unsafe\s+)?impl\b")
TRAIT_RE = re.compile(r"(?m)^[ \t]*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?trait\s+(\w+)")
STRUCT_RE = re.compile(r"(?m)^[ \t]*(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+)")
ENUM_RE = re.compile(r"(?m)^[ \t]*(?:pub(?:\([^)]*\))?\s+)?enum\s+(\w+)")
ALIAS_RE = re.compile(r"(?m)^[ \t]*(?:pub(?:\([^)]*\))?\s+)?type\s+(\w+)\s*(?:<[^=]*>)?\s*=\s*([^;]+);")
FN_RE = re.compile(r"\bfn\s+(\w+)")
ATTR_RE = re.compile(r"#\[[^\]]*\]")


class Program:
    """The walked crates' files, functions, structs, enums, traits and string constants."""

    def __init__(self, root: Path = ROOT):
        self.root = root
        self.crates = discover_crates(root)
        self.files: list[SourceFile] = []
        self.fns: list[Fn] = []
        self.structs: dict[str, dict[str, tuple[str, SourceFile]]] = {}  # type -> field -> (type, file)
        self.enums: dict[str, list[str]] = {}  # enum -> variants
        self.traits: dict[str, list[str]] = {}  # trait -> implementing types
        self.aliases: dict[str, str] = {}  # `type Item = HashMap<..>`
        self.consts: dict[str, str] = {}  # string constants (index names)
        self.crate_names = {c.ident: c.name for c in self.crates.values()}
        for crate in self.crates.values():
            if crate.name in self.walked_crate_names():
                self._read_crate(crate)
        self.by_owner: dict[str | None, dict[str, list[Fn]]] = {}
        for f in self.fns:
            self.by_owner.setdefault(f.owner, {}).setdefault(f.name, []).append(f)

    # ---- crates

    def function_crates(self) -> list[Crate]:
        return [c for c in sorted(self.crates.values(), key=lambda c: c.name)
                if c.dir.parent == self.root / "functions"]

    @functools.cache
    def reaches_sdk(self, name: str) -> bool:
        c = self.crates[name]
        return c.uses_sdk or any(self.reaches_sdk(d) for d in c.deps if d in self.crates)

    @functools.cache
    def visible_crates(self, ident: str) -> frozenset[str]:
        """A crate and the walked crates it depends on (directly or not), by Rust name."""
        c = self.crates[self.crate_names[ident]]
        seen = {c.ident}
        for d in c.deps:
            if d in self.crates and self.reaches_sdk(d):
                seen |= self.visible_crates(self.crates[d].ident)
        return frozenset(seen)

    @functools.cache
    def walked_crate_names(self) -> frozenset[str]:
        names = set()
        for fc in self.function_crates():
            names |= {self.crate_names[i] for i in self.visible_crates(fc.ident)}
        return frozenset(names)

    # ---- reading

    def _read_crate(self, crate: Crate) -> None:
        src = crate.dir / "src"
        test_only: set[tuple[str, ...]] = set()
        files = []
        for rs in sorted(src.rglob("*.rs")):
            raw = rs.read_text(encoding="utf-8")
            module = module_of(src, crate.ident, rs)
            code, test_mods = strip_test_items(raw, blank_comments_and_strings(raw))
            test_only |= {module + (t,) for t in test_mods}
            files.append(SourceFile(rs, crate.ident, module, code, raw))
        for sf in files:
            if any(sf.module[: len(t)] == t for t in test_only):
                continue
            sf.imports = parse_imports(sf.code, sf.module, crate.ident)
            self.files.append(sf)
            self._read_items(sf)

    def _read_items(self, sf: SourceFile) -> None:
        code = sf.code
        blocks: list[tuple[int, int, str, set[str]]] = []  # impl and trait bodies: (start, end, type, generics)
        for m in IMPL_RE.finditer(code):
            brace = code.find("{", m.end())
            generics = leading_generics(code[m.end(): brace])
            header = re.sub(r"\bwhere\b.*$", "", strip_generics(code[m.end(): brace]), flags=re.S).strip()
            trait = None
            if mm := re.match(r"^(.*?)\s+for\s+(.*)$", header, re.S):
                trait, header = type_head(mm.group(1)), mm.group(2)
            if ty := type_head(header):
                blocks.append((brace, matching(code, brace), ty, generics))
                if trait:
                    self.traits.setdefault(trait, []).append(ty)
        for m in TRAIT_RE.finditer(code):
            brace = code.find("{", m.end())
            blocks.append((brace, matching(code, brace), m.group(1), set()))
            self.traits.setdefault(m.group(1), [])
        for m in STRUCT_RE.finditer(code):
            k = m.end()
            while k < len(code) and code[k] not in "{;(":
                k += 1
            fields = self.structs.setdefault(m.group(1), {})
            if k < len(code) and code[k] == "{":
                for part in split_top(ATTR_RE.sub("", code[k + 1: matching(code, k)])):
                    if fm := re.match(r"^(?:pub(?:\([^)]*\))?\s+)?(\w+)\s*:\s*(.+)$", part, re.S):
                        fields[fm.group(1)] = (fm.group(2).strip(), sf)
        for m in ENUM_RE.finditer(code):
            brace = code.find("{", m.end())
            variants = split_top(ATTR_RE.sub("", code[brace + 1: matching(code, brace)]))
            self.enums[m.group(1)] = [re.match(r"\w+", v).group(0) for v in variants if re.match(r"\w+", v)]
        for m in ALIAS_RE.finditer(code):
            self.aliases[m.group(1)] = m.group(2)
        for m in re.finditer(r'\bconst\s+(\w+)\s*:\s*&(?:\'static\s+)?str\s*=\s*"([^"]*)"', sf.raw):
            self.consts[m.group(1)] = m.group(2)
        for m in FN_RE.finditer(code):
            if f := self._read_fn(sf, m, blocks):
                self.fns.append(f)

    def _read_fn(self, sf: SourceFile, m: re.Match, blocks) -> Fn | None:
        code = sf.code
        open_paren = code.find("(", m.end())
        close = matching(code, open_paren)
        params, has_self = split_params(code[open_paren + 1: close])
        # The body is the first `{` after the parameters outside brackets (past the return type
        # and any where clause); a `;` first is a declaration without a body (a trait's method).
        j, depth = close + 1, 0
        while j < len(code) and not (depth == 0 and code[j] in "{;"):
            depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(code[j], 0)
            j += 1
        if j >= len(code) or code[j] == ";":
            return None
        ret = re.sub(r"\bwhere\b.*$", "", code[close + 1: j], flags=re.S).strip()
        ret = ret[2:].strip() if ret.startswith("->") else ""
        enclosing = [b for b in blocks if b[0] < m.start() < b[1]]
        owner, generics = (max(enclosing, key=lambda b: b[0])[2:] if enclosing else (None, set()))
        generics = generics | leading_generics(code[m.end(): open_paren])
        return Fn(name=m.group(1), owner=owner, params=params, has_self=has_self, ret=ret, generics=generics,
                  body=normalize_body(code[j: matching(code, j) + 1]),
                  line=code.count("\n", 0, m.start()) + 1, source=sf)

    # ---- lookups

    def methods(self, type_name: str, name: str, visible: frozenset[str]) -> list[Fn]:
        """`name` of `type_name`'s impls; for a trait, of every implementation (and its default)."""
        owners = [type_name] + self.traits.get(type_name, [])
        return [f for o in owners for f in self.by_owner.get(o, {}).get(name, []) if f.crate in visible]

    def free_fns(self, name: str, visible: frozenset[str]) -> list[Fn]:
        return [f for f in self.by_owner.get(None, {}).get(name, []) if f.crate in visible]

    def is_ours(self, name: str) -> bool:
        """A type defined in a walked crate (its methods may issue requests)."""
        return name in self.structs or name in self.traits or name in self.enums or name in self.by_owner


def leading_generics(text: str) -> set[str]:
    """The type parameters of a leading `<T: Bound, 'a, const N: usize>` (lifetimes left out)."""
    text = text.lstrip()
    if not text.startswith("<"):
        return set()
    depth, k = 0, 0
    for k, ch in enumerate(text.replace("->", "\0\0")):
        depth += {"<": 1, ">": -1}.get(ch, 0)
        if depth == 0:
            break
    names = (re.match(r"(?:const\s+)?(\w+)", p) for p in split_top(text[1:k]) if not p.startswith("'"))
    return {n.group(1) for n in names if n}


def type_head(type_text: str) -> str | None:
    """`&'a crate::x::Foo<T>` -> `Foo`; `dyn Mailer` -> `Mailer`."""
    t = re.sub(r"^(&\s*('\w+\s+)?|mut\s+|dyn\s+|impl\s+)+", "", type_text.strip())
    m = re.match(r"^([\w:]+)", strip_generics(t).strip())
    return m.group(1).split("::")[-1] if m else None


# ------------------------------------------------------------------ needs and calls

@dataclass(frozen=True)
class Need:
    """An IAM action on a resource: `table` or `index/<name>` for DynamoDB, `*` for other services."""
    action: str
    resource: str = TABLE

    def __str__(self) -> str:
        return self.action if self.resource in (TABLE, "*") else f"{self.action} on {self.resource}"


@dataclass
class Guess:
    """A call the walk could not pin to its targets: it took every function of that name."""
    caller: Fn
    call: str
    targets: list[Fn]

    def __str__(self) -> str:
        return f"{self.caller.label} ({self.caller.where}): {self.call} -> " + ", ".join(t.label for t in self.targets)


# A call: an optional `a::b::` path, a name, an optional turbofish (`::<Vec<_>>`), then `(`.
CALL_RE = re.compile(r"(?<![\w])((?:[A-Za-z_]\w*::)*)([A-Za-z_]\w*)(?:::<[^()]*?>)?\(")
# A function passed by name as an argument: `(from_item)`, `, HistoryEvent::of)`.
FN_REF_RE = re.compile(r"(?<=[(,])\s*((?:[A-Za-z_]\w*::)*)([a-z_]\w*)\s*(?=[,)])")
# An Op value `Op::Put { .. }`; whether it is built or matched is decided by what follows it.
OP_RE = re.compile(r"\bOp::(\w+)\s*\{")


# SDK operations whose IAM action is not their own name.
ACTION_OF_OPERATION = {"lambda:Invoke": "lambda:InvokeFunction"}


def pascal(snake: str) -> str:
    return "".join(w.capitalize() for w in snake.split("_"))


def action(prefix: str, op: str) -> str:
    name = f"{prefix}:{pascal(op)}"
    return ACTION_OF_OPERATION.get(name, name)


def iam_prefix(sdk_crate: str) -> str:
    return IAM_PREFIX.get(sdk_crate, sdk_crate)


def ends_with(module: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return 0 < len(path) <= len(module) and module[len(module) - len(path):] == path


def chain_start(body: str, end: int) -> int:
    """Where the postfix expression ending just before `end` starts: a path, calls, `?`, `.await`,
    indexing, e.g. `self.store.get(&k).await?` or `Outbox { store }` (a struct literal)."""
    k = end
    while k > 0:
        c = body[k - 1]
        if c.isalnum() or c == "_":
            while k > 0 and (body[k - 1].isalnum() or body[k - 1] == "_"):
                k -= 1
            if body[k - 1: k] == ".":
                k -= 1
            elif body[max(0, k - 2): k] == "::":
                k -= 2
            elif body[k - 1: k] == ">" and "::<" in body[max(0, k - 40): k]:
                k = body.rindex("::<", 0, k)  # a turbofish: `collect::<Vec<_>>`
            else:
                break
        elif c in ")]":
            k = matching_backwards(body, k - 1)
            if k == 0 or not (body[k - 1].isalnum() or body[k - 1] in "_>"):
                break  # a parenthesized expression or a tuple, not a call
        elif c == "?":
            k -= 1
        elif c == "}":  # a struct literal, if a type's name is right before its brace
            open_at = matching_backwards(body, k - 1)
            m = re.search(r"([\w:]+)\s*$", body[:open_at])
            if not (m and m.group(1).split("::")[-1][:1].isupper()):
                break
            k = m.start(1)
            break
        else:
            break
    return k


class Walker:
    """Resolves calls and types in the walked program, and walks from a function crate's code."""

    def __init__(self, program: Program):
        self.p = program
        self._calls: dict[int, Calls] = {}
        self.store_actions = self._store_actions()

    # ---- the store

    def _store_actions(self) -> dict[str, set[Need] | None]:
        """Each Store method's needs; None for one that sends the writes it is given."""
        store = self.p.by_owner.get(STORE, {})
        out: dict[str, set[Need] | None] = {}
        for name, fns in store.items():
            f = fns[0]
            if any(re.search(r"\bWrite\b", t) for t in f.params.values()):
                out[name] = None
                continue
            actions, index, seen, todo = set(), None, set(), [f]
            while todo:  # this method and the Store methods it calls on `self`
                g = todo.pop()
                if g.name in seen:
                    continue
                seen.add(g.name)
                actions |= {action(iam_prefix(sdk), op) for sdk, op in self.sdk_calls(g)}
                if mm := re.search(r"\.index_name\((\w+)\)", g.body):
                    index = self.p.consts.get(mm.group(1), mm.group(1))
                todo += [h for c in re.findall(r"\bself\.(\w+)\(", g.body) for h in store.get(c, [])]
            out[name] = {Need(a, f"index/{index}" if index else TABLE) for a in actions}
        return out

    def sdk_calls(self, f: Fn) -> set[tuple[str, str]]:
        """(SDK crate, operation) of every `client.op()` in `f` on an AWS SDK client."""
        out = set()
        for m in CALL_RE.finditer(f.body):
            if m.start() > 0 and f.body[m.start() - 1] == "." and not m.group(1):
                t = self.type_of_expr(f, f.body[chain_start(f.body, m.start() - 1): m.start() - 1])
                if isinstance(t, TypeRef) and t.sdk and m.group(2) not in SDK_NON_OPERATIONS:
                    out.add((t.sdk, m.group(2)))
        return out

    # ---- types

    def resolve_type(self, type_text: str, sf: SourceFile, owner: str | None = None) -> Type:
        """A type as written in `sf`: ours (TypeRef), an AWS SDK type (TypeRef with `sdk`), not
        ours (False), or unknown (None: a std container or tuple holding one of ours)."""
        t = type_text.strip()
        for _ in range(8):  # peel references and wrappers: &Arc<dyn Mailer> -> Mailer
            t = re.sub(r"^(&\s*('\w+\s+)?|mut\s+|dyn\s+|impl\s+)+", "", t).strip()
            m = re.match(r"^([\w:]+)\s*<(.*)>$", t, re.S)
            if m and m.group(1).split("::")[-1] in WRAPPERS:
                t = split_top(m.group(2))[0] if m.group(2).strip() else t
            else:
                break
        head = re.match(r"^([\w:]+)", strip_generics(t))
        if not head:
            return None if self._mentions_ours(t) else False
        path = head.group(1)
        name = path.split("::")[-1]
        if name == "Self":
            return TypeRef(owner) if owner else None
        first = path.split("::")[0]
        full = (path.split("::") if "::" in path else []) or list(sf.imports.get(first, ()))
        if full and full[0].startswith("aws_sdk_"):
            return TypeRef(name, full[0][len("aws_sdk_"):])
        if name in self.p.aliases and name not in self.p.structs:
            return self.resolve_type(self.p.aliases[name], sf, owner)
        if self.p.is_ours(name):
            return TypeRef(name)
        return None if self._mentions_ours(t) else False

    def _mentions_ours(self, type_text: str) -> bool:
        return any(self.p.is_ours(w) for w in re.findall(r"[A-Z]\w*", type_text))

    def type_of_expr(self, f: Fn, expr: str, depth: int = 0) -> Type:
        """The type of a postfix expression in `f`'s body (see `chain_start`)."""
        e = re.sub(r"^(&\s*(mut\s+)?|\*)+", "", expr.strip())
        if depth > 12 or not e:
            return None
        if e.endswith("?"):
            return self.type_of_expr(f, e[:-1], depth + 1)
        if e.endswith(".await"):
            return self.type_of_expr(f, e[:-6], depth + 1)
        if e.endswith("]"):
            return None  # indexing: the element type is not tracked
        if e.endswith("}"):  # a struct literal
            m = re.match(r"^([\w:]+)\s*\{", e)
            return self.resolve_type(m.group(1), f.source, f.owner) if m else None
        if e.endswith(")"):
            callee = re.sub(r"::<[^()]*>$", "", e[: matching_backwards(e, len(e) - 1)])
            if callee.endswith("!"):
                return False  # a macro's value (`json!`, `format!`, `vec!`): std and serde types
            if "." in callee and re.search(r"\.\w+$", callee):
                recv, name = callee.rsplit(".", 1)
                return self._method_return(f, recv, name, depth)
            if m := re.match(r"^((?:\w+::)*)(\w+)$", callee):
                path = tuple(m.group(1).rstrip(":").split("::")) if m.group(1) else ()
                if (not path and m.group(2) in ("Some", "Ok")) or (path and path[-1] in WRAPPERS):
                    inner = e[matching_backwards(e, len(e) - 1) + 1: -1]  # `Arc::new(x)` is an x
                    return self.type_of_expr(f, inner, depth + 1)
                if m.group(2)[:1].isupper():  # a tuple variant or struct: `Cond::Missing(..)`
                    return self.resolve_type(path[-1] if path else m.group(2), f.source, f.owner)
                visible = self.p.visible_crates(f.crate)
                targets = self._path_call(f, path, m.group(2), visible) if path else \
                    self._resolve_bare(f, m.group(2), visible)
                if targets:
                    return self._returns(targets)
                if path and not self._is_walked_path(f, path):
                    return False  # e.g. `Utc::now()`, `serde_json::to_value(..)`
            return None
        if m := re.fullmatch(r"(?:\w+::)*([A-Z]\w*)::[A-Z]\w*", e):  # a unit variant: `Cond::Exists`
            return self.resolve_type(m.group(1), f.source, f.owner)
        if re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*", e):
            return self.type_of_path(f, e, depth)
        return None

    def _method_return(self, f: Fn, recv: str, name: str, depth: int) -> Type:
        t = self.type_of_expr(f, recv, depth + 1)
        if name in SAME_TYPE_METHODS or not isinstance(t, TypeRef):
            return t
        if t.sdk:
            return False  # an SDK builder or output
        targets = self.p.methods(t.name, name, self.p.visible_crates(f.crate))
        return self._returns(targets) if targets else None

    def _returns(self, targets: list[Fn]) -> Type:
        types = {self.resolve_type(g.ret, g.source, g.owner) if g.ret else False for g in targets}
        return types.pop() if len(types) == 1 else None

    def _is_walked_path(self, f: Fn, path: tuple[str, ...]) -> bool:
        """Whether `path::..` (as written in `f`) may name something of a walked crate."""
        full = f.source.imports.get(path[0], (path[0],)) + path[1:]
        if full[0] in self.p.crate_names or full[0] in ("crate", "self", "super", "Self"):
            return True
        return self.p.is_ours(full[-1]) or any(ends_with(sf.module, (full[0],)) for sf in self.p.files)

    def type_of_path(self, f: Fn, path: str, depth: int = 0) -> Type:
        """The type of `a.b.c` in `f`: `self`, a parameter or a `let`, then struct fields."""
        head, *fields = path.split(".")
        if head == "self":
            t = TypeRef(f.owner) if f.owner else None
        elif head in f.params:
            generic = type_head(f.params[head]) in f.generics  # `r: &R`: any type, so unknown
            t = None if generic else self.resolve_type(f.params[head], f.source, f.owner)
        else:
            t = self.local_type(f, head, depth)
        for fld in fields:
            if not isinstance(t, TypeRef) or t.sdk:
                return t if t is None else False
            if t.name not in self.p.structs:
                return None
            if fld not in self.p.structs[t.name]:
                return None
            text, sf = self.p.structs[t.name][fld]
            t = self.resolve_type(text, sf, t.name)
        return t

    def local_type(self, f: Fn, var: str, depth: int) -> Type:
        """The type of a local bound by `let var = ..`, `let var: T = ..`, or `let Some(var) = ..`
        (also `if let` / `let .. else`); None when unknown or when its bindings disagree."""
        v = re.escape(var)
        found = set()
        pattern = rf"\blet\s+(?:(?:Some|Ok)\(\s*)?(?:mut\s+)?{v}\b\s*\)?\s*(?::\s*([^=;]+?))?\s*=(?!=)"
        for m in re.finditer(pattern, f.body):
            if m.group(1):
                found.add(self.resolve_type(m.group(1), f.source, f.owner))
                continue
            end = m.end()
            expr_end = self._expr_end(f.body, end)
            found.add(self.type_of_expr(f, f.body[end:expr_end], depth + 1))
        return found.pop() if len(found) == 1 else None

    @staticmethod
    def _expr_end(body: str, start: int) -> int:
        """End of the expression starting at `start`: a `;`, or the `{` of `if let` / `let .. else`."""
        k, depth = start, 0
        while k < len(body):
            c = body[k]
            if c in "([":
                depth += 1
            elif c in ")]":
                depth -= 1
            elif c == "{" and depth == 0:
                before = body[start:k].rstrip()
                if re.search(r"\b[A-Z]\w*$", before):
                    k = matching(body, k)  # a struct literal inside the expression
                else:  # the block of `if let .. {` or of `let .. else {`
                    return start + len(before.removesuffix("else").rstrip())
            elif c == ";" and depth == 0:
                return k
            k += 1
        return k

    # ---- calls

    def calls(self, f: Fn) -> "Calls":
        """What `f` calls (pinned down, or guessed), and the needs it meets itself."""
        if id(f) not in self._calls:
            self._calls[id(f)] = self._find_calls(f)
        return self._calls[id(f)]

    def _find_calls(self, f: Fn) -> "Calls":
        visible = self.p.visible_crates(f.crate)
        out = Calls()
        for m in CALL_RE.finditer(f.body):
            path, name, start = m.group(1), m.group(2), m.start()
            if name in KEYWORDS or name[:1].isupper() or re.search(r"\bfn\s*$", f.body[max(0, start - 8):start]):
                continue  # a keyword, an enum variant or tuple struct, a nested fn's definition
            if start > 0 and f.body[start - 1] == ".":
                self._method_call(f, start - 1, name, visible, out)
            elif path:
                out.exact += self._path_call(f, tuple(path.rstrip(":").split("::")), name, visible)
            else:
                self._bare_call(f, name, visible, out)
        for m in FN_REF_RE.finditer(f.body):  # a function passed by name: `.map(Key::of)`
            path, name = m.group(1), m.group(2)
            if path:
                out.exact += self._path_call(f, tuple(path.rstrip(":").split("::")), name, visible)
            elif name not in KEYWORDS:
                out.exact += self._resolve_bare(f, name, visible)
        if f.owner != STORE:  # the store's own matches on Op are not writes
            for m in OP_RE.finditer(f.body):
                close = matching(f.body, m.end() - 1)
                inner, after = f.body[m.end(): close].strip(), f.body[close + 1:].lstrip()
                if after.startswith(("=>", "|", "=")) or inner == "..":
                    continue  # a pattern (match arm, `if let`), not a value
                action = OP_ACTIONS.get(m.group(1), f"dynamodb:<unmapped Op::{m.group(1)}>")
                out.needs.append((Need(action), f"Op::{m.group(1)}"))
        return out

    def _method_call(self, f: Fn, dot: int, name: str, visible, out: "Calls") -> None:
        recv = f.body[chain_start(f.body, dot): dot]
        t = self.type_of_expr(f, recv) if recv else None
        if t is False:
            return
        if isinstance(t, TypeRef) and t.sdk:
            if name not in SDK_NON_OPERATIONS and not (t.sdk == "dynamodb" and f.owner == STORE):
                resource = TABLE if t.sdk == "dynamodb" else "*"
                out.needs.append((Need(action(iam_prefix(t.sdk), name), resource), f"{recv}.{name}()"))
        elif isinstance(t, TypeRef):
            out.exact += [g for g in self.p.methods(t.name, name, visible) if g.has_self]
        else:
            candidates = [g for owner, fns in self.p.by_owner.items() if owner
                          for g in fns.get(name, []) if g.has_self and g.crate in visible]
            if candidates:
                out.add_guess(Guess(f, f"{recv or '?'}.{name}(", candidates))

    def _path_call(self, f: Fn, path: tuple[str, ...], name: str, visible) -> list[Fn]:
        if path[0] == "Self":
            path = (f.owner or "Self", *path[1:])
        elif path[0] in f.source.imports:
            path = f.source.imports[path[0]] + path[1:]
        else:
            path = expand_relative(path, f.module, f.crate)
        if path[-1][:1].isupper():  # Type::f
            return self.p.methods(path[-1], name, visible)
        fns = self.p.free_fns(name, visible)
        return [g for g in fns if ends_with(g.module, path)] or \
            [g for g in fns if ends_with(g.module, (*f.module, *path))]

    def _resolve_bare(self, f: Fn, name: str, visible) -> list[Fn]:
        """The free function a bare `name` is in `f`: of the same module, or imported."""
        if name in f.params or re.search(rf"\blet\s+(?:mut\s+)?{re.escape(name)}\b", f.body):
            return []  # a local (a closure held in a variable: its body is walked where written)
        if same := [g for g in self.p.free_fns(name, visible) if g.module == f.module]:
            return same
        if name in f.source.imports and len(full := f.source.imports[name]) > 1:
            return self._path_call(f, full[:-1], full[-1], visible)
        return []

    def _bare_call(self, f: Fn, name: str, visible, out: "Calls") -> None:
        if found := self._resolve_bare(f, name, visible):
            out.exact += found
        elif not (name in f.params or name in f.source.imports or
                  re.search(rf"\blet\s+(?:mut\s+)?{re.escape(name)}\b", f.body)):
            if candidates := self.p.free_fns(name, visible):  # e.g. a glob import
                out.add_guess(Guess(f, f"{name}(", candidates))

    # ---- the walk

    def walk(self, roots: list[Fn], guesses: bool = True) -> tuple[dict[Need, list[str]], list[Fn], set[str]]:
        """Every need reachable from `roots` (through guessed calls too, or not), each with its
        shortest call chain; the functions reached; and the Store methods called."""
        chain: dict[int, list[str]] = {id(f): [f.label] for f in roots}
        queue, needs, reached, store_calls = deque(roots), {}, [], set()
        while queue:
            f = queue.popleft()
            reached.append(f)
            calls = self.calls(f)
            for need, how in calls.needs:
                needs.setdefault(need, chain[id(f)] + [how])
            targets = [(g, g.label) for g in calls.exact]
            if guesses:
                targets += [(g, f"{g.label} (guessed from `{guess.call}`)") for g, guess in calls.guessed]
            for g, label in targets:
                if g.owner == STORE:
                    store_calls.add(g.name)
                    for need in sorted(self.store_actions.get(g.name) or (), key=str):
                        needs.setdefault(need, chain[id(f)] + [label])
                elif id(g) not in chain:
                    chain[id(g)] = chain[id(f)] + [label]
                    queue.append(g)
        return needs, reached, store_calls


@dataclass
class Calls:
    """The calls of one function: pinned down, guessed (with the guess), and its own needs."""
    exact: list[Fn] = field(default_factory=list)
    guessed: list[tuple[Fn, Guess]] = field(default_factory=list)
    needs: list[tuple[Need, str]] = field(default_factory=list)

    def add_guess(self, guess: Guess) -> None:
        self.guessed += [(t, guess) for t in guess.targets]


# ------------------------------------------------------------------ results

@dataclass
class FunctionNeeds:
    """What one function crate's code can issue, each need with the shortest call chain to it."""
    crate: str
    needs: dict[Need, list[str]]  # through every call, guessed ones too
    certain: set[Need]  # found through pinned-down calls only
    reached: list[Fn]
    store_calls: set[str]  # the Store methods it calls

    def actions(self, prefix: str = "dynamodb:") -> set[str]:
        return {n.action for n in self.needs if n.action.startswith(prefix)}

    def why(self, need: Need) -> str:
        return " -> ".join(self.needs[need])

    def guessed_only(self) -> set[Need]:
        """Needs found only through a guessed call: possibly not needed at all."""
        return set(self.needs) - self.certain


@dataclass
class Analysis:
    program: Program
    walker: Walker
    functions: dict[str, FunctionNeeds]  # by binary name (the template's BuildProperties.Binary)

    @property
    def store_actions(self) -> dict[str, set[Need] | None]:
        return self.walker.store_actions

    def guesses(self) -> list[Guess]:
        """The over-approximated calls in code some function reaches."""
        seen, out = set(), []
        for fn in self.functions.values():
            for f in fn.reached:
                for _, g in self.walker.calls(f).guessed:
                    if id(g) not in seen:
                        seen.add(id(g))
                        out.append(g)
        return out


def analyse(root: Path = ROOT) -> Analysis:
    program = Program(root)
    walker = Walker(program)
    functions = {}
    for crate in program.function_crates():
        roots = [f for f in program.fns if f.crate == crate.ident]
        needs, reached, store_calls = walker.walk(roots)
        certain, _, _ = walker.walk(roots, guesses=False)
        for b in binaries(crate):
            functions[b] = FunctionNeeds(crate.name, needs, set(certain), reached, store_calls)
    return Analysis(program, walker, functions)


if __name__ == "__main__":  # a report: python tests/iam_walk.py
    analysis = analyse()
    for binary, fn in sorted(analysis.functions.items()):
        print(f"{binary}:")
        for need in sorted(fn.needs, key=str):
            mark = "?" if need in fn.guessed_only() else " "
            print(f"  {mark} {str(need):45} {fn.why(need)}")
    print(f"{len(analysis.guesses())} guessed calls; run with -v to list them")
    if "-v" in __import__("sys").argv:
        for g in analysis.guesses():
            print(f"  {g}")
