#!/usr/bin/env python3
"""Replay DRP's recorded CLI suite against the stand-in (``drp-plugin serve``).

``digitalrebar/provision`` recorded, for each ``drpcli`` command its ``cli/*_test.go``
ran, what a real dr-provision answered: ``cli/test-data/output/<Test>/<case>/``
``stdout.expect`` and ``stderr.expect``.  The commands themselves are in the Go
sources (``cliTest(expectUsage, expectErr, args...)``, ``.Stdin(...)``,
``.run(t)``/``.get(t)``), and so is whether each one fails (``expectErr``), so this
script reads both, at the last commit that carried the suite (``af452c8a~1``, the
parent of "Get rid of most CLI unit tests", 2019-08-05; v4.8.0 keeps only
``TestCorePieces`` and ``TestLoadIncrementer``).

For every test function, in the order ``go test`` runs them (files by name,
functions in source order), it evaluates the string arguments of each ``cliTest``
call (string literals, string variables, ``+``, loops over literal string lists),
names the case as ``common_test.go`` ``CliTest.loc`` does (so every case is checked
against the recorded folder it belongs to), stages what the Go test stages (the
incrementer binary, the ``prefs`` symlinks), runs the given ``drpcli`` with
``-E <stand-in> -T ""`` in a copy of ``cli/`` (or GETs the file server for
``.get(t)``), and compares as ``testCli`` does: exact stdout/stderr, or line
regexps when the recording starts with ``RE:``; for usage cases, the prefix rules;
and the exit status against ``expectErr``.

Every case is classified ``match``, ``differs``, or ``not-extracted`` (an argument
the evaluator cannot compute, e.g. a loop over ``models.AllPrefixes()``); a case
without a recorded folder printed nothing (git keeps no empty folder), as
``testCli`` reads it.  Cases of a test or object type the stand-in does not serve
are ``not-served`` when they differ.  The summary counts the *served* cases:
extracted and on a served type.

    python tools/replay_cli.py --provision /work/.mirror/digitalrebar+provision/repo \\
        --drpcli /tmp/drpcli [--incrementer /tmp/incrementer] [--json out.json] [-v]

Environment instead of options: ``DRP_PROVISION_GIT``, ``DRP_PROVISION_SUITE_REV``,
``DRP_DRPCLI``, ``DRP_INCREMENTER``.  Builds nothing into the package; needs only
``git``, the ``drpcli`` binary and this checkout's ``drp-plugin``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The last commit of digitalrebar/provision that carried the recorded CLI suite.
SUITE_REV = "af452c8a~1"
#: ``runtime.GOOS``/``GOARCH`` of the drpcli this replays (where the staged incrementer
#: is looked for: ``../bin/<os>/<arch>/incrementer``).
GO_PLATFORM = {"GOOS": "linux", "GOARCH": {"x86_64": "amd64", "aarch64": "arm64"}.get(
    os.uname().machine, os.uname().machine)}
#: Seconds one drpcli command may take (a few recorded cases wait up to 10 s).
COMMAND_TIMEOUT = 60.0
#: Seconds the stand-in may take to say it is ready.
START_TIMEOUT = 60.0

#: Object types (drpcli's first word) the stand-in does not serve
#: (``src/drp_plugin/standin/rest.py``: DHCP, TFTP/ISOs, ...).
NOT_SERVED_TYPES = frozenset({
    "subnets", "leases", "reservations", "isos", "interfaces",
    "pools", "contexts", "catalog", "catalog_items", "agent", "machines processjobs",
    "bootenvs uploadiso", "bootenvs install", "labs", "certs", "gohai", "support",
    "tasks runner", "jobs actions",
})
#: Whole tests about something the stand-in does not serve (task runner, jobs agent,
#: DHCP, ISO/TFTP, content-pack prerequisites on server features).
NOT_SERVED_TESTS = frozenset({
    "TestAgent", "TestProcessJobsCli", "TestWorkflowAgent", "TestSubnetCli", "TestLeaseCli",
    "TestReservationCli", "TestScopedReservations", "TestIsosCli", "TestInterfaceCli",
    "TestRepos", "TestBootEnvLookaside", "TestMultiArch", "TestCertsCli",
    "TestContentRequiredFeatures", "TestSecureParamUpgrade",
})


# ---- a small evaluator for the Go test sources ---------------------------------------

_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<nl>\n)
  | (?P<ws>[ \t\r]+)
  | (?P<raw>`[^`]*`)
  | (?P<str>"(?:\\.|[^"\\\n])*")
  | (?P<chr>'(?:\\.|[^'\\\n])*')
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>:=|\.\.\.|&&|\|\||==|!=|<=|>=|\+\+|--|\+=|[-+*/%<>=!&|^.,;:(){}\[\]])
""", re.S | re.X)


@dataclass
class Tok:
    kind: str
    text: str


def tokenize(src: str) -> list[Tok]:
    """Go tokens (comments and blanks dropped, newlines kept)."""
    out, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise ValueError(f"cannot tokenize at {src[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind not in ("comment", "ws"):
            out.append(Tok(kind, m.group()))
    return out


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}


def go_string(text: str) -> str:
    """The value of a Go string literal (interpreted or raw)."""
    if text.startswith("`"):
        return text[1:-1].replace("\r", "")
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in _ESCAPES:
            out.append(_ESCAPES[n])
            i += 2
        elif n == "x":
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif n in "uU":
            width = 4 if n == "u" else 8
            out.append(chr(int(body[i + 2:i + 2 + width], 16)))
            i += 2 + width
        else:  # octal
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
    return "".join(out)


class Unknown(Exception):
    """An expression the evaluator cannot compute."""


class _Continue(Exception):
    """A ``continue`` reached in an unrolled loop's body."""


#: The env key holding ``models.AllPrefixes()`` of the suite's revision.
ALL_PREFIXES = "models.AllPrefixes()"


@dataclass
class Case:
    """One recorded drpcli command."""

    test: str
    index: int
    args: list[str] | None  # None: not extracted
    stdin: str = ""
    usage: bool = False
    error: bool = False
    curl: bool = False
    loc: str = ""
    why: str = ""  # why not extracted
    result: dict[str, Any] = field(default_factory=dict)
    #: Not a command: the test's ``os.Remove(<path>)`` of a file in its working folder
    #: (TestContentCli removes greg.yaml before bundlizing into it again).
    removes: str = ""


def _matching(toks: list[Tok], i: int) -> int:
    """Index of the bracket closing the one at ``i``."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    open_, close, depth = toks[i].text, pairs[toks[i].text], 0
    for j in range(i, len(toks)):
        if toks[j].text == open_ and toks[j].kind == "op":
            depth += 1
        elif toks[j].text == close and toks[j].kind == "op":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError("unbalanced brackets")


def _split_top(toks: list[Tok], sep: str) -> list[list[Tok]]:
    """``toks`` split at each ``sep`` operator outside brackets."""
    parts: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text in "([{":
            depth += 1
        elif t.kind == "op" and t.text in ")]}":
            depth -= 1
        if depth == 0 and t.kind == "op" and t.text == sep:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _split_args(toks: list[Tok]) -> list[list[Tok]]:
    """Top-level comma-separated pieces of an argument list (newlines dropped)."""
    return [p for p in _split_top([t for t in toks if t.kind != "nl"], ",") if p]


def evaluate(toks: list[Tok], env: dict[str, Any]) -> Any:
    """A string expression: literals, known variables, ``+``, ``path.Join``,
    ``fmt.Sprintf("%s..")``, ``true``/``false``."""
    if not toks:
        raise Unknown("empty expression")
    values = [_term(term, env) for term in _split_top(toks, "+")]
    if len(values) == 1:
        return values[0]
    if not all(isinstance(v, str) for v in values):
        raise Unknown("+ of non-strings")
    return "".join(values)


def _term(toks: list[Tok], env: dict[str, Any]) -> Any:
    if len(toks) == 1:
        t = toks[0]
        if t.kind in ("str", "raw"):
            return go_string(t.text)
        if t.kind == "ident" and t.text in ("true", "false"):
            return t.text == "true"
        if t.kind == "ident" and t.text in env:
            return env[t.text]
        raise Unknown(t.text)
    texts = [t.text for t in toks]
    if texts == ["models", ".", "AllPrefixes", "(", ")"] and ALL_PREFIXES in env:
        return list(env[ALL_PREFIXES])
    if texts in (["runtime", ".", "GOOS"], ["runtime", ".", "GOARCH"]):
        return GO_PLATFORM[texts[2]]
    if texts[:3] == ["path", ".", "Join"] and texts[3] == "(":
        inner = _split_args(toks[4:_matching(toks, 3)])
        return posixpath.join(*[str(evaluate(p, env)) for p in inner]) \
            if inner else ""
    if texts[:3] == ["fmt", ".", "Sprintf"] and texts[3] == "(":
        inner = _split_args(toks[4:_matching(toks, 3)])
        fmt, *rest = [evaluate(p, env) for p in inner]
        if not isinstance(fmt, str) or re.search(r"%[^svd%]", fmt):
            raise Unknown("Sprintf format")
        return re.sub(r"%[svd]", "{}", fmt.replace("{", "{{").replace("}", "}}")) \
            .replace("%%", "%").format(*rest)
    if texts[:3] == ["[", "]", "string"] and texts[3] == "{":
        return [evaluate(p, env) for p in _split_args(toks[4:_matching(toks, 3)])]
    if texts[:5] == ["map", "[", "string", "]", "string"] and texts[5] == "{":
        # map[string]string{k: v, ...}: a dict in source order
        pairs = {}
        for part in _split_args(toks[6:_matching(toks, 5)]):
            colon = next((k for k, t in enumerate(part) if t.kind == "op" and t.text == ":"),
                         None)
            if colon is None:
                raise Unknown("map entry")
            pairs[evaluate(part[:colon], env)] = evaluate(part[colon + 1:], env)
        return pairs
    if len(toks) > 3 and toks[0].kind == "ident" and texts[1] == "[" \
            and _matching(toks, 1) == len(toks) - 1 and isinstance(env.get(texts[0]), dict):
        # m[k] of a known map
        key = evaluate(toks[2:-1], env)
        if key not in env[texts[0]]:
            raise Unknown(f"{texts[0]}[{key}]")
        return env[texts[0]][key]
    if texts[:6] == ["func", "(", ")", "[", "]", "string"] and texts[6] == "{" \
            and texts[-2:] == ["(", ")"] and _matching(toks, 6) == len(toks) - 3:
        return _closure(toks[7:-3], env)
    if texts[0] == "(" and _matching(toks, 0) == len(toks) - 1:
        return evaluate(toks[1:-1], env)
    raise Unknown(" ".join(texts[:6]))


def _closure(body: list[Tok], env: dict[str, Any]) -> list[str]:
    """The value of ``func() []string { ... }()`` whose body only collects strings:
    ``x := make([]string, ...)``, ``for k := range <map> { x = append(x, k) }``,
    ``sort.Strings(x)``, ``return x`` (TestAuth sorts a map's keys so)."""
    lines: list[list[str]] = [[]]
    for t in body:
        if t.kind == "nl":
            lines.append([])
        else:
            lines[-1].append(t.text)
    local: dict[str, list[str]] = {}
    loop: tuple[str, str] | None = None
    for line in (ln for ln in lines if ln):
        if len(line) > 3 and line[1] == ":=" and line[2:6] == ["make", "(", "[", "]"]:
            local[line[0]] = []
        elif len(line) == 6 and line[0] == "for" and line[2:4] == [":=", "range"] \
                and line[-1] == "{" and isinstance(env.get(line[4]), dict):
            loop = (line[1], line[4])
        elif loop and len(line) == 8 and line[1] == "=" and line[2:4] == ["append", "("] \
                and line[4] == line[0] and line[6] == loop[0] and line[0] in local:
            local[line[0]].extend(str(k) for k in env[loop[1]])
        elif line == ["}"] and loop:
            loop = None
        elif line[:4] == ["sort", ".", "Strings", "("] and line[4] in local:
            local[line[4]].sort()
        elif line[0] == "return" and len(line) == 2 and line[1] in local:
            return local[line[1]]
        else:
            raise Unknown("func literal: " + " ".join(line[:6]))
    raise Unknown("func literal without return")


def _line_end(toks: list[Tok], i: int) -> int:
    """Index of the newline ending the statement starting at ``i`` (brackets span)."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t.kind == "op" and t.text in "([{":
            depth += 1
        elif t.kind == "op" and t.text in ")]}":
            depth -= 1
            if depth < 0:
                return j
        elif t.kind == "nl" and depth == 0 and j > i and _ends_statement(toks[j - 1]):
            return j
    return len(toks)


def _depth(toks: list[Tok], at: int) -> int:
    """How many brackets are open before ``toks[at]``."""
    depth = 0
    for t in toks[:at]:
        if t.kind == "op" and t.text in "([{":
            depth += 1
        elif t.kind == "op" and t.text in ")]}":
            depth -= 1
    return depth


def _lines(toks: list[Tok]) -> list[list[Tok]]:
    """The statements of ``toks`` split at the newlines that end one (brackets span)."""
    out: list[list[Tok]] = []
    i = 0
    while i < len(toks):
        if toks[i].kind == "nl":
            i += 1
            continue
        end = _line_end(toks, i)
        out.append(toks[i:end])
        i = end + 1
    return out


def _ends_statement(t: Tok) -> bool:
    """Go's semicolon rule: a newline after this token ends the statement."""
    return t.kind in ("ident", "str", "raw", "chr", "num") or t.text in (")", "]", "}", "++", "--")


class Extractor:
    """Walks one test function's body, collecting its ``cliTest`` calls."""

    def __init__(self, test: str, globals_: dict[str, Any]) -> None:
        self.test = test
        self.env_root = dict(globals_)
        self.cases: list[Case] = []

    def run(self, toks: list[Tok]) -> list[Case]:
        self.block(toks, dict(self.env_root), unknown_loop=False)
        return self.cases

    def block(self, toks: list[Tok], env: dict[str, Any], unknown_loop: bool) -> None:
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "nl" or (t.kind == "op" and t.text in "{};"):
                i += 1
                continue
            end = _line_end(toks, i)
            stmt = toks[i:end]
            texts = [s.text for s in stmt]
            if texts and texts[0] == "for":
                i = self.loop(toks, i, env, unknown_loop)
                continue
            if texts[0] == "if" and self.skips_iteration(toks, i, env):
                raise _Continue
            if texts[0] == "switch":
                done = self.switch(toks, i, env, unknown_loop)
                if done is not None:
                    i = done
                    continue
            if texts[0] in ("if", "else", "switch", "select", "go", "func") or \
                    (texts[-1:] == ["{"]):
                # enter the block's body as straight-line code
                brace = next((k for k in range(i, len(toks))
                              if toks[k].text == "{" and toks[k].kind == "op"), None)
                if brace is None:
                    i = end + 1
                    continue
                close = _matching(toks, brace)
                self.block(toks[brace + 1:close], env, unknown_loop)
                i = close + 1
                continue
            self.statement(stmt, env, unknown_loop)
            i = end + 1

    def loop(self, toks: list[Tok], i: int, env: dict[str, Any], unknown_loop: bool) -> int:
        """``for _, v := range <[]string{...} | var>`` unrolled; any other loop's body is
        walked once with its cases marked not extracted."""
        nl = next((k for k in range(i, len(toks)) if toks[k].kind == "nl"), len(toks))
        brace = max(k for k in range(i, nl) if toks[k].text == "{")
        close = _matching(toks, brace)
        head = toks[i + 1:brace]
        texts = [t.text for t in head]
        values: Any = None
        if "range" in texts:
            names = [t.text for t in head[:texts.index("range")] if t.kind == "ident"]
            try:
                values = evaluate(head[texts.index("range") + 1:], env)
            except Unknown:
                values = None
            if isinstance(values, list) and names:
                for n, v in enumerate(values):
                    inner = dict(env)
                    if len(names) == 2:
                        inner[names[0]], inner[names[1]] = n, v
                    else:
                        inner[names[0]] = n
                    try:
                        self.block(toks[brace + 1:close], inner, unknown_loop)
                    except _Continue:
                        pass
                return close + 1
        try:
            self.block(toks[brace + 1:close], dict(env), True)
        except _Continue:
            pass
        return close + 1

    def switch(self, toks: list[Tok], i: int, env: dict[str, Any], unknown_loop: bool
               ) -> int | None:
        """``switch <known value> { case a, b: ... default: ... }``: only the clause that
        matches is walked (TestCorePieces skips some prefixes so); the index after the
        statement, or ``None`` when the value is not known."""
        brace = next((k for k in range(i, len(toks))
                      if toks[k].text == "{" and toks[k].kind == "op"), None)
        if brace is None:
            return None
        try:
            value = evaluate(toks[i + 1:brace], env)
        except Unknown:
            return None
        close = _matching(toks, brace)
        body = toks[brace + 1:close]
        starts = [k for k, t in enumerate(body) if t.kind == "ident"
                  and t.text in ("case", "default") and _depth(body, k) == 0]
        chosen: list[Tok] | None = None
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(body)
            colon = next(k for k in range(start, end) if body[k].text == ":")
            clause = body[colon + 1:end]
            if body[start].text == "default":
                chosen = clause if chosen is None else chosen
                continue
            try:
                values = [evaluate(part, env) for part in _split_args(body[start + 1:colon])]
            except Unknown:
                return None
            if value in values:
                chosen = clause
                break
        if chosen is not None and [t.text for t in chosen if t.kind != "nl"] == ["continue"]:
            raise _Continue
        if chosen is not None:
            self.block(chosen, env, unknown_loop)
        return close + 1

    @staticmethod
    def skips_iteration(toks: list[Tok], i: int, env: dict[str, Any]) -> bool:
        """``if a == b { continue }`` (or ``!=``) whose operands are known and hold:
        the rest of this loop iteration is skipped, as TestAuth skips "preferences"."""
        brace = next((k for k in range(i, len(toks))
                      if toks[k].text == "{" and toks[k].kind == "op"), None)
        if brace is None:
            return False
        body = [t.text for t in toks[brace + 1:_matching(toks, brace)] if t.kind != "nl"]
        cond = toks[i + 1:brace]
        ops = [k for k, t in enumerate(cond) if t.kind == "op" and t.text in ("==", "!=")]
        if body != ["continue"] or len(ops) != 1:
            return False
        try:
            left, right = evaluate(cond[:ops[0]], env), evaluate(cond[ops[0] + 1:], env)
        except Unknown:
            return False
        return bool(left == right) == (cond[ops[0]].text == "==")

    def statement(self, stmt: list[Tok], env: dict[str, Any], unknown_loop: bool) -> None:
        texts = [s.text for s in stmt]
        if "cliTest" in texts:
            self.cli_test(stmt, texts.index("cliTest"), env, unknown_loop)
            return
        if texts[:4] in (["os", ".", "Remove", "("], ["os", ".", "RemoveAll", "("]) \
                and not unknown_loop:
            try:
                path = evaluate([s for s in stmt[4:_matching(stmt, 3)] if s.kind != "nl"],
                                env)
            except Unknown:
                return
            if isinstance(path, str) and path:
                self.cases.append(Case(self.test, len(self.cases), None, removes=path))
            return
        # a grouped declaration: var ( x = e \n y T = e ... )
        if texts[:2] in (["var", "("], ["const", "("]):
            for spec in _lines(stmt[2:_matching(stmt, 1)]):
                self.statement([stmt[0], *spec], env, unknown_loop)
            return
        # assignments: var x [T] = e ; x := e ; x = e
        if texts[0] == "var" and "=" in texts:
            name, expr = texts[1], stmt[texts.index("=") + 1:]
        elif len(texts) > 2 and texts[1] in (":=", "="):
            name, expr = texts[0], stmt[2:]
        else:
            return
        try:
            # a func literal's body is read line by line (see _closure)
            env[name] = evaluate(expr if expr and expr[0].text == "func"
                                 else [s for s in expr if s.kind != "nl"], env)
        except Unknown:
            env.pop(name, None)

    def cli_test(self, stmt: list[Tok], at: int, env: dict[str, Any],
                 unknown_loop: bool) -> None:
        at -= len([s for s in stmt[:at] if s.kind == "nl"])
        stmt = [s for s in stmt if s.kind != "nl"]
        open_ = at + 1
        close = _matching(stmt, open_)
        parts = _split_args(stmt[open_ + 1:close])
        case = Case(self.test, len(self.cases), None)
        self.cases.append(case)
        try:
            usage, error = evaluate(parts[0], env), evaluate(parts[1], env)
            args = [evaluate(p, env) for p in parts[2:]]
        except Unknown as exc:
            case.why = f"argument not computed: {exc}"
            return
        j = close + 1
        stdin, curl = "", False
        while j < len(stmt) and stmt[j].text == ".":
            name = stmt[j + 1].text
            pclose = _matching(stmt, j + 2)
            inner = stmt[j + 3:pclose]
            if name == "Stdin":
                try:
                    stdin = evaluate([s for s in inner if s.kind != "nl"], env)
                except Unknown as exc:
                    case.why = f"stdin not computed: {exc}"
                    return
            elif name == "get":
                curl = True
            j = pclose + 1
        if unknown_loop:
            case.why = "inside a loop the evaluator cannot unroll"
            return
        if not all(isinstance(a, str) for a in args):
            case.why = "a non-string argument"
            return
        case.args, case.stdin, case.usage, case.error, case.curl = \
            args, stdin, bool(usage), bool(error), curl


def package_globals(files: dict[str, str]) -> dict[str, Any]:
    """Top-level string ``var``/``const`` values of the package's test files."""
    env: dict[str, Any] = {}
    for src in files.values():
        toks = tokenize(src)
        depth = 0
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "op" and t.text in "({[":
                depth += 1
            elif t.kind == "op" and t.text in ")}]":
                depth -= 1
            elif depth == 0 and t.text in ("var", "const") and i + 1 < len(toks) \
                    and toks[i + 1].kind == "ident":
                end = _line_end(toks, i)
                stmt = toks[i:end]
                texts = [s.text for s in stmt]
                if "=" in texts:
                    try:
                        env[texts[1]] = evaluate(
                            [s for s in stmt[texts.index("=") + 1:] if s.kind != "nl"], env)
                    except Unknown:
                        pass
                i = end
                continue
            i += 1
    return env


def model_prefixes(models: dict[str, str]) -> list[str]:
    """``models.AllPrefixes()`` read from the suite revision's ``models/*.go``: the
    ``Prefix()`` of each model ``All()`` returns, in its order."""
    source = "\n".join(models.values())
    body = re.search(r"func All\(\) \[\]Model \{\s*return \[\]Model\{((?:\s*&\w+\{\},?)+)\s*\}",
                     source)
    if body is None:
        raise Unknown("models.All()")
    prefixes = []
    for name in re.findall(r"&(\w+)\{\}", body.group(1)):
        found = re.search(r"func \(\w+ \*" + name + r"\) Prefix\(\) string\s*\{\s*return \"(\w+)\"",
                          source)
        if found is None:
            raise Unknown(f"{name}.Prefix()")
        prefixes.append(found.group(1))
    return prefixes


def extract(files: dict[str, str], prefixes: list[str] | None = None) -> list[Case]:
    """Every ``cliTest`` call of every ``Test*`` function, in ``go test`` order.
    ``prefixes`` is ``models.AllPrefixes()`` at the suite's revision, if known."""
    env = package_globals(files)
    if prefixes is not None:
        env[ALL_PREFIXES] = prefixes
    cases: list[Case] = []
    for name in sorted(files):
        toks = tokenize(files[name])
        for i, t in enumerate(toks):
            if t.text == "func" and i + 1 < len(toks) and toks[i + 1].text.startswith("Test") \
                    and toks[i + 2].text == "(" and "testing" in \
                    [x.text for x in toks[i + 3:i + 8]] and toks[i + 1].text != "TestMain":
                brace = next(k for k in range(i, len(toks)) if toks[k].text == "{")
                body = toks[brace + 1:_matching(toks, brace)]
                cases.extend(Extractor(toks[i + 1].text, env).run(body))
    return cases


class Namer:
    """``CliTest.loc`` of common_test.go: the recorded folder of a case."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def loc(self, test: str, args: list[str], stdin: str) -> str:
        res: list[str] = []
        digest = hashlib.md5()
        have = False
        for i, arg in enumerate(args):
            if not arg:
                continue
            if arg[0] in "[{-":
                have = True
                digest.update(".".join(args[i:]).encode())
                break
            res.append(arg)
        if stdin:
            have = True
            digest.update(stdin.encode())
        if have:
            res.append(digest.hexdigest())
        ret = _go_path_join(test, ".".join(res))
        for old, new in (("\n", "nl"), (":", "."), ("|", "pipe"), ('"', "dquote"),
                         ("'", "squote")):
            ret = ret.replace(old, new)
        ret = re.sub(r"\.+", ".", ret)
        ret = re.sub(r"\.?/\.?", "/", ret)
        ret = ret.strip(".")
        if ret not in self.seen:
            self.seen[ret] = 2
            return ret
        n = self.seen[ret]
        self.seen[ret] += 1
        return f"{ret}.{n}"


def _go_path_join(*parts: str) -> str:
    """Go's ``path.Join``: join the non-empty parts and ``path.Clean`` the result."""
    joined = "/".join(p for p in parts if p)
    if not joined:
        return ""
    rooted = joined.startswith("/")
    out: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    return ("/" + cleaned) if rooted else (cleaned or ".")


# ---- comparison (common_test.go testCli / reTest) -------------------------------------

def re_test(expected: str, actual: str) -> bool:
    """``reTest``: each non-empty line after ``RE:`` must match a later actual line."""
    patterns = []
    for line in expected[4:].split("\n"):
        line = line.strip()
        if line:
            try:
                patterns.append(re.compile(r"^[\s]*(" + line + r")[\s]*$"))
            except re.error:
                return False
    lines = actual.split("\n")
    idx, matches = 0, 0
    for pat in patterns:
        while True:
            matched = bool(pat.match(lines[idx]))
            if matched:
                matches += 1
            idx += 1
            if idx == len(lines) or matched:
                break
        if idx == len(lines):
            break
    return matches == len(patterns)


#: The commit of v4.8.0 (the mirror carries it as ``v4.8.0-alpha00``), whose models the
#: stand-in answers with (``src/drp_plugin/drp_models.json`` records the same commit).
V48_REV = "ec1ea89ab810cc86ba12d0b22087efb2b52e1255"


def _gen_models() -> Any:
    """``tools/gen_drp_models.py`` as a module."""
    import importlib.util
    if "gen_drp_models" in sys.modules:
        return sys.modules["gen_drp_models"]
    spec = importlib.util.spec_from_file_location(
        "gen_drp_models", Path(__file__).with_name("gen_drp_models.py"))
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_drp_models"] = gen
    spec.loader.exec_module(gen)
    return gen


def _string_set(source: str, var: str) -> list[str] | None:
    """The sorted keys of ``var = map[string]struct{}{...}`` in Go ``source``."""
    found = re.search(re.escape(var) + r"\s*=\s*map\[string\]struct\{\}\{(.*?)\n\s*\}",
                      source, re.S)
    return sorted(re.findall(r'"([^"]+)"', found.group(1))) if found else None


def message_changes(provision: str, old_rev: str,
                    new_rev: str = V48_REV) -> list[tuple[str, str, str]]:
    """Validation messages v4.8's models word differently from ``old_rev``'s, read from
    both revisions: ``(2019 text, v4.8 text, evidence)``.  Today: the OS values a task
    template may name (models/task.go ``validGOOS``, listed in "Valid values are: ...")."""
    gen = _gen_models()
    old = gen.read_models(Path(provision), old_rev)[0].get("models/task.go", "")
    new = gen.read_models(Path(provision), new_rev)[0].get("models/task.go", "")
    before, after = _string_set(old, "validGOOS"), _string_set(new, "validGOOS")
    if not before or not after or before == after:
        return []
    gained = ", ".join(sorted(set(after) - set(before))) or "none"
    return [("Valid values are: " + ",".join(before), "Valid values are: " + ",".join(after),
             f"models/task.go's validGOOS (the valid task OS values) gained {gained} in v4.8")]


def incrementer_changes(provision: str, old_rev: str, incrementer: Path
                        ) -> list[tuple[str, str, Any, Any, str, tuple[str, ...]]]:
    """How the incrementer the replay uploads defines itself (its ``define``) differently
    from the one the suite was recorded with (``cmds/incrementer/incrementer.go`` at
    ``old_rev``), as :data:`VALUE_CHANGES` entries.  Today: ``HasPublish`` (the 2019
    incrementer published events; v4.8's does not)."""
    shown = subprocess.run([*_git(provision), "show",
                            f"{old_rev}:cmds/incrementer/incrementer.go"],
                           capture_output=True, text=True)
    found = re.search(r"HasPublish:\s*(true|false)", shown.stdout)
    try:
        defined = json.loads(subprocess.run([str(incrementer), "define"], capture_output=True,
                                            text=True, timeout=COMMAND_TIMEOUT).stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []
    before = None if shown.returncode or found is None else found.group(1) == "true"
    after = defined.get("HasPublish") if isinstance(defined, dict) else None
    if before is None or not isinstance(after, bool) or before == after:
        return []
    return [("plugin_providers", "HasPublish", before, after,
             f"the incrementer replayed declares HasPublish {str(after).lower()}, the one "
             f"recorded (cmds/incrementer/incrementer.go) {str(before).lower()}", ())]


def model_changes(provision: str, old_rev: str,
                  new_rev: str = V48_REV) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per object prefix, the JSON fields its model gained and lost from ``old_rev`` to
    ``new_rev`` (read with ``tools/gen_drp_models.py``, embedded structs flattened)."""
    gen = _gen_models()
    old = gen.parse_go(gen.read_models(Path(provision), old_rev)[0])
    new = gen.parse_go(gen.read_models(Path(provision), new_rev)[0])
    gained: dict[str, set[str]] = {}
    lost: dict[str, set[str]] = {}
    for prefix, struct in new["prefixes"].items():
        before = set(old["structs"].get(old["prefixes"].get(prefix, ""), {}))
        after = set(new["structs"].get(struct, {}))
        gained[prefix], lost[prefix] = after - before, (before - after if before else set())
        # fields gained by the structs the model holds (a task's []TemplateInfo gained
        # Link): the answer shows them nested, as version drift all the same
        for inner in _nested_structs(new["structs"], struct):
            if inner in old["structs"]:
                gained[prefix] |= set(new["structs"][inner]) - set(old["structs"][inner])
    return gained, lost


def _nested_structs(structs: dict[str, dict[str, str]], struct: str) -> set[str]:
    """The struct types (by name) reachable from ``struct``'s fields, ``[]``, ``*`` and
    ``map[..]`` stripped."""
    found: set[str] = set()
    todo = [struct]
    while todo:
        for typ in structs.get(todo.pop(), {}).values():
            base = re.sub(r"^(?:\[\]|\*|map\[[^\]]*\])+", "", typ)
            if base in structs and base not in found and base != struct:
                found.add(base)
                todo.append(base)
    return found


NEWER: dict[str, set[str]] = {}
OLDER: dict[str, set[str]] = {}
#: :func:`message_changes`, filled when the run starts.
MESSAGE_CHANGES: list[tuple[str, str, str]] = []
#: Values whose meaning changed: (prefix, field, 2019 value, v4.8 value, evidence, the
#: fields that must be empty in the recorded answer for the change to apply).
VALUE_CHANGES: list[tuple[str, str, Any, Any, str, tuple[str, ...]]] = [
    ("machines", "CurrentTask", -1, 0,
     "a machine without tasks has CurrentTask 0 in v4.8 (api/events_test.go TestWaitFor)",
     ("Tasks",)),
]


def _without_added(got: Any, want: Any) -> Any:
    """``got`` with the keys ``want`` lacks removed (recursively, lists element-wise)."""
    if isinstance(got, dict) and isinstance(want, dict):
        return {k: _without_added(v, want[k]) for k, v in got.items() if k in want}
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [_without_added(g, w) for g, w in zip(got, want, strict=True)]
    return got


def _added(got: Any, want: Any) -> set[str]:
    if isinstance(got, dict) and isinstance(want, dict):
        names = {k for k in got if k not in want}
        for k in got:
            if k in want:
                names |= _added(got[k], want[k])
        return names
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return set().union(*(_added(g, w) for g, w in zip(got, want, strict=True))) if got else set()
    return set()


def _as_v48(prefix: str, want: Any, got: Any) -> tuple[Any, list[str]]:
    """The recorded answer as v4.8 would give it: fields v4.8's model lost removed, and
    :data:`VALUE_CHANGES` applied where the answer shows the new value; with notes."""
    notes: list[str] = []
    lost = OLDER.get(prefix, set())

    def one(w: Any, g: Any) -> Any:
        if not isinstance(w, dict):
            return w
        out = {k: v for k, v in w.items() if k not in lost}
        if len(out) != len(w):
            notes.append("fields v4.8's models dropped: " + ", ".join(sorted(set(w) - set(out))))
        for vprefix, name, old, new, why, empty in VALUE_CHANGES:
            if vprefix == prefix and out.get(name) == old and isinstance(g, dict) \
                    and g.get(name) == new and not any(out.get(e) for e in empty):
                out[name] = new
                notes.append(why)
        return out

    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        want = [one(w, g) for w, g in zip(want, got, strict=True)]
    else:
        want = one(want, got)
    return want, sorted(set(notes))


_RE_BRACKETS = re.compile(r"\\([\[\]{}])")


def _re_json_drift(prefix: str, want_out: str, out: str) -> str:
    """A ``RE:`` recording that is JSON with its brackets escaped (the suite's way of
    recording an answer without its volatile fields): rewritten as v4.8 would answer
    (:func:`_as_v48`: fields v4.8 dropped removed, changed values applied) and matched
    again with ``reTest``; the notes when only that rewriting makes it match."""
    try:
        # a regex's escaped dot (``"v4\\..*"``) is no JSON escape: read as a dot, which
        # the pattern made again below still matches
        w = json.loads(_RE_BRACKETS.sub(r"\1", want_out[4:]).replace("\\.", "."))
        g = json.loads(out)
    except ValueError:
        return ""
    w48, notes = _as_v48(prefix, w, g)
    newer = NEWER.get(prefix, set())
    stripped = _without_newer(g, w48, newer)
    if stripped != g:
        notes.append("fields v4.8's models have and the 2019 server did not: " +
                      ", ".join(sorted(_added(g, stripped))))
    if not notes:
        return ""
    pattern = "RE:\n" + re.sub(r"([\[\]{}])", r"\\\1",
                               json.dumps(w48, indent=2, ensure_ascii=False))
    return "; ".join(notes) if re_test(pattern, json.dumps(
        stripped, indent=2, ensure_ascii=False)) else ""


def _re_last_field_drift(prefix: str, want_out: str, out: str) -> str:
    """A ``RE:`` recording of a few lines (not a whole JSON document) whose last field
    line had no comma in 2019 and has one now, because a field v4.8 added sorts after
    it (``"Workflow": "wf1"`` followed by v4.8's ``WorkflowComplete``); matched again
    with such a line allowed its comma."""
    newer = NEWER.get(prefix, set())
    relaxed, moved = [], []
    for line in want_out[4:].split("\n"):
        key = re.match(r'\s*"(\w+)":', line)
        if key and not line.rstrip().endswith((",", "[", "{")) \
                and any(n > key.group(1) for n in newer):
            relaxed.append(line.rstrip() + ",?")
            moved.append(key.group(1))
        else:
            relaxed.append(line)
    if not moved or not re_test("RE:\n" + "\n".join(relaxed), out):
        return ""
    later = sorted(n for n in newer if n > min(moved))
    return (f"fields v4.8's models have and the 2019 server did not ({', '.join(later)}) "
            f"sort after {', '.join(moved)}, which is no longer last")


def _without_newer(got: Any, want: Any, newer: set[str]) -> Any:
    """``got`` without the fields of ``newer`` that ``want`` does not show (recursively)."""
    if isinstance(got, dict):
        w = want if isinstance(want, dict) else {}
        return {k: _without_newer(v, w.get(k), newer) for k, v in got.items()
                if k in w or k not in newer}
    if isinstance(got, list):
        ws = want if isinstance(want, list) and len(want) == len(got) else [None] * len(got)
        return [_without_newer(g, w, newer) for g, w in zip(got, ws, strict=True)]
    return got


def _unescaped(text: str) -> str:
    """``text`` with Go's HTML escapes in JSON strings undone."""
    return text.replace("\\u0026", "&").replace("\\u003c", "<").replace("\\u003e", ">")


def _client_wording(text: str) -> str:
    return text.replace("while decoding JSON: ", "").rstrip()


def _parsed(case: Case, text: str) -> Any:
    """The answer as data: JSON, or YAML when drpcli was asked for it (``-F yaml``,
    ``--format yaml``); ``None`` when it is neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    args = list(case.args or [])
    wants_yaml = any(a in ("-Fyaml", "--format=yaml", "-F=yaml") for a in args) or any(
        a in ("-F", "--format") and b == "yaml" for a, b in zip(args, args[1:], strict=False))
    if not wants_yaml:
        return None
    import yaml
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, (dict, list)) else None


#: drpcli's global options that take a value (``-T ""``, ``-U fred``): not the prefix.
_VALUED_OPTIONS = frozenset({"-F", "--format", "-T", "--token", "-U", "--username",
                             "-P", "--password", "-E", "--endpoint"})


def drift(case: Case, want_out: str, want_err: str, out: str, err: str) -> str:
    """Why a differing case is version drift (the 2019 server and drpcli against v4.8's
    drpcli and models), or "" when it is not."""
    if case.usage:
        return "drpcli's usage text changed since 2019 (no request is made)"
    if "Usage:" in want_err and "Usage:" in err and want_out == out:
        return "drpcli prints its usage after the error; the usage text changed since 2019"
    if want_err == err and want_out != out and _unescaped(want_out) == out:
        return ("drpcli v4.8 prints JSON with api.PrettyColor (cli/common.go), which keeps "
                "&, < and >; the 2019 drpcli's json.MarshalIndent wrote \\u0026 and such")
    if want_out == out and want_err != err and \
            _client_wording(want_err) == _client_wording(err):
        return ("drpcli's own wording changed (v4.8 adds \"while decoding JSON: \" and "
                "no longer ends some errors with a blank line)")
    if want_out == out and want_err != err:
        reworded = want_err
        why: list[str] = []
        for before, after, evidence in MESSAGE_CHANGES:
            if before in reworded:
                reworded, why = reworded.replace(before, after), [*why, evidence]
        if why and reworded == err:
            return "; ".join(why)
    if want_err == err or (want_err and err and not want_out and not out
                           and want_err.rstrip("\n") == err.rstrip("\n")):
        w, g = _parsed(case, want_out), _parsed(case, out)
        if w is None or g is None:
            w = g = None
        args = list(case.args or [])
        words = [a for i, a in enumerate(args) if not a.startswith("-")
                 and not (i and args[i - 1] in _VALUED_OPTIONS)]
        prefix = words[0] if words else ""
        if want_out.startswith("RE:\n"):
            return _re_json_drift(prefix, want_out, out) or _re_last_field_drift(
                prefix, want_out, out)
        if w is not None and g != w:
            w, notes = _as_v48(prefix, w, g)
            added = _added(g, w)
            if _without_added(g, w) == w and added <= NEWER.get(prefix, set()):
                if added:
                    notes.append("fields v4.8's models have and the 2019 server did not: " +
                                 ", ".join(sorted(added)))
                return "; ".join(notes)
    return ""


def compare(case: Case, want_out: str, want_err: str, out: str, err: str,
            failed: bool) -> list[str]:
    """What differs, as ``testCli`` judges it (empty: the case answers as recorded)."""
    problems = []
    if case.error != failed:
        problems.append("exit status: " + ("expected an error" if case.error
                                           else "expected success"))
    if not case.usage:
        for what, want, got in (("stdout", want_out, out), ("stderr", want_err, err)):
            same = re_test(want, got) if want.startswith("RE:\n") else want == got
            if not same:
                problems.append(what)
    elif case.error:
        if not err.startswith(want_err) or "Usage:" not in err:
            problems.append("stderr (usage)")
        if out != want_out:
            problems.append("stdout")
    else:
        if err != want_err:
            problems.append("stderr")
        if not out.startswith(want_out) or "Usage:" not in out:
            problems.append("stdout (usage)")
    return problems


# ---- the run ----------------------------------------------------------------------------

def _git(provision: str) -> list[str]:
    """The git command for ``provision``, a git dir or a work tree."""
    return ["git", "--git-dir", provision] if not (Path(provision) / ".git").exists() \
        else ["git", "-C", provision]


def suite_files(provision: str, rev: str, into: Path) -> Path:
    """Extract ``cli/`` of ``provision`` (a git dir or work tree) at ``rev`` into ``into``."""
    data = subprocess.run([*_git(provision), "archive", rev, "cli"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / "cli"


class StandIn:
    """``drp-plugin serve`` on free ports, for the run's length."""

    def __init__(self, home: Path, drp_plugin: list[str]) -> None:
        env = {**os.environ, "HOME": str(home)}
        for var in ("RS_ENDPOINT", "RS_TOKEN", "RS_KEY", "RS_FILESERVER"):
            env.pop(var, None)
        #: ``serve --access-log``: one line per request the stand-in received.
        self.access_log = home / "stand-in-access.log"
        self.proc = subprocess.Popen(
            [*drp_plugin, "serve", "--port", "0", "--file-port", "0", "--quiet",
             "--access-log", str(self.access_log)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.endpoint = self.fileserver = ""
        ready = threading.Event()
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, args=(ready,), daemon=True).start()
        if not ready.wait(START_TIMEOUT) or not self.endpoint:
            self.stop()
            raise RuntimeError("drp-plugin serve did not start")

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            m = re.match(r"DRP stand-in: (\S+)\s+\(files: (\S+)\)", line)
            if m:
                self.endpoint, self.fileserver = m.group(1), m.group(2)

    def _read_err(self, ready: threading.Event) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "Ctrl-C stops it" in line:
                ready.set()
        ready.set()

    def requests(self) -> int:
        """How many HTTP requests (API and file server) the stand-in has received; its
        access log has the line of a request before the request is answered."""
        try:
            with self.access_log.open("rb") as log:
                return sum(block.count(b"\n") for block in iter(lambda: log.read(1 << 16), b""))
        except FileNotFoundError:
            return 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def stage(test: str, work: Path, incrementer: Path | None) -> None:
    """What the Go test stages in its working directory before its commands."""
    if test == "TestPluginProviderCli" and incrementer is not None:
        # plugin_providers_test.go: cp -rf <tmpDir>/plugins/incrementer incrementer
        shutil.copy2(incrementer, work / "incrementer")
    if test == "TestPrefsCli":
        # prefs_test.go: bootenvs/local3.yml and templates/<tmpl> symlinks into test-data
        (work / "bootenvs").mkdir(exist_ok=True)
        (work / "templates").mkdir(exist_ok=True)
        for link, target in (("bootenvs/local3.yml", "../test-data/local3.yml"),
                             *((f"templates/{t}", f"../test-data/{t}") for t in
                               ("local3-pxelinux.tmpl", "local3-elilo.tmpl",
                                "local3-ipxe.tmpl"))):
            if not (work / link).is_symlink():
                (work / link).symlink_to(target)


def unstage(test: str, work: Path) -> None:
    if test == "TestPluginProviderCli":
        (work / "incrementer").unlink(missing_ok=True)
    if test == "TestPrefsCli":
        for folder in ("bootenvs", "templates", "isos", "ic"):
            shutil.rmtree(work / folder, ignore_errors=True)


def served(case: Case) -> bool:
    if case.test in NOT_SERVED_TESTS or not case.args:
        return False
    words = [a for a in case.args if not a.startswith("-")]
    return not (words and (words[0] in NOT_SERVED_TYPES
                           or " ".join(words[:2]) in NOT_SERVED_TYPES))


def run_case(case: Case, drpcli: str, drp: StandIn, work: Path, home: Path) -> tuple[str, str, bool]:
    assert case.args is not None
    if case.curl:
        url = drp.fileserver + "/" + "/".join(case.args)
        try:
            with urllib.request.urlopen(url, timeout=COMMAND_TIMEOUT) as reply:
                return reply.read().decode(errors="replace"), "", False
        except Exception as exc:  # noqa: BLE001 - the recording compares the text
            return "", str(exc), True
    args = list(case.args)
    if "-E" not in args:
        args = ["-E", drp.endpoint, "-T", "", *args]
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "")}
    try:
        proc = subprocess.run([drpcli, *args], input=case.stdin, capture_output=True,
                              text=True, cwd=work, env=env, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "", f"timed out after {COMMAND_TIMEOUT:.0f} s", True
    return proc.stdout, proc.stderr, proc.returncode != 0


def replay(provision: str, rev: str, drpcli: str, incrementer: Path | None,
           drp_plugin: list[str], only: set[str] | None = None) -> list[Case]:
    with tempfile.TemporaryDirectory(prefix="drp-replay-") as tmp:
        root = Path(tmp)
        cli = suite_files(provision, rev, root / "src")
        work = root / "src" / "cli"
        if incrementer is not None:
            bin_dir = root / "src" / "bin" / GO_PLATFORM["GOOS"] / GO_PLATFORM["GOARCH"]
            bin_dir.mkdir(parents=True)
            shutil.copy2(incrementer, bin_dir / "incrementer")
        files = {p.name: p.read_text() for p in sorted(cli.glob("*_test.go"))}
        gained, lost = model_changes(provision, rev)
        NEWER.update(gained)
        OLDER.update(lost)
        MESSAGE_CHANGES[:] = message_changes(provision, rev)
        VALUE_CHANGES[1:] = incrementer_changes(provision, rev, incrementer) \
            if incrementer is not None else []
        try:
            prefixes: list[str] | None = model_prefixes(
                _gen_models().read_models(Path(provision), rev)[0])
        except Unknown:
            prefixes = None
        cases = extract(files, prefixes)
        namer = Namer()
        recorded = cli / "test-data" / "output"
        for case in cases:
            if case.args is not None:
                case.loc = namer.loc(case.test, case.args, case.stdin)
        home = root / "home"
        home.mkdir()
        drp = StandIn(home, drp_plugin)
        try:
            current = ""
            after_agent = False
            for case in cases:
                if only and case.test not in only:
                    continue
                if case.test != current:
                    if current:
                        unstage(current, work)
                    current = case.test
                    after_agent = False
                    stage(current, work, incrementer)
                if case.removes:
                    remove_in(work, case.removes)
                    continue
                if case.args is None:
                    case.result = {"class": "not-extracted", "why": case.why}
                    continue
                # git keeps no empty folder: a case that printed nothing has none
                folder = recorded / case.loc
                want_out = _read(folder / "stdout.expect")
                want_err = _read(folder / "stderr.expect")
                before = drp.requests()
                out, err, failed = run_case(case, drpcli, drp, work, home)
                requests = drp.requests() - before
                problems = compare(case, want_out, want_err, out, err, failed)
                klass = "match" if not problems else "differs"
                why = drift(case, want_out, want_err, out, err) if problems else ""
                if why:
                    klass = "drift"
                # what follows drpcli's agent in a test shows the jobs it ran, the task
                # runner the stand-in does not serve
                is_served = served(case) and not after_agent
                after_agent = after_agent or "processjobs" in case.args
                if not is_served and problems:
                    klass = "not-served"
                case.result = {"class": klass, "problems": problems, "served": is_served,
                               "requests": requests}
                if served(case) and not is_served:
                    case.result["after_agent"] = True
                if why:
                    case.result["why"] = why
                if problems:
                    case.result.update(want_out=want_out, want_err=want_err, out=out, err=err)
            if current:
                unstage(current, work)
        finally:
            drp.stop()
    return cases


def remove_in(work: Path, name: str) -> None:
    """A test's ``os.Remove``/``RemoveAll`` of ``name``, only inside its working folder."""
    target = (work / name).resolve()
    if not target.is_relative_to(work.resolve()) or target == work.resolve():
        return
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target, ignore_errors=True)
    else:
        target.unlink(missing_ok=True)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def summary(cases: list[Case]) -> dict[str, Any]:
    ran = [c for c in cases if c.result]
    served_ = [c for c in ran if c.result.get("served")]
    matched = [c for c in served_ if c.result["class"] == "match"]
    counts: dict[str, int] = {}
    for c in ran:
        counts[c.result["class"]] = counts.get(c.result["class"], 0) + 1
    # cases answered by drpcli alone (usage, argument errors) prove nothing about the
    # stand-in: the second figure counts only those that reached it
    asked = [c for c in served_ if c.result.get("requests", 0) > 0]
    return {"served": len(served_), "matched": len(matched), "classes": counts,
            "cases": len(ran), "served_requesting": len(asked),
            "matched_requesting": sum(c.result["class"] == "match" for c in asked)}


def _iter_report(cases: list[Case], verbose: bool) -> Iterator[str]:
    for c in cases:
        if not c.result:
            continue
        name = c.loc or f"{c.test}#{c.index}"
        line = f"{c.result['class']:14} {name}"
        if c.result.get("problems"):
            line += "  (" + ", ".join(c.result["problems"]) + ")"
        if c.result.get("why"):
            line += f"  ({c.result['why']})"
        yield line
        if verbose and c.result.get("problems"):
            yield "    $ drpcli " + " ".join(json.dumps(a) if " " in a or not a else a
                                             for a in c.args or [])
            for what in ("out", "err"):
                want, got = c.result[f"want_{what}"], c.result[what]
                if want != got:
                    yield f"    want {what}: {want[:2000]!r}"
                    yield f"    got  {what}: {got[:2000]!r}"


def _first_difference(want: str, got: str) -> str:
    if want.startswith("RE:\n"):
        want = want[4:].replace("\\", "")
    for a, b in zip(want.splitlines(), got.splitlines(), strict=False):
        if a.strip() != b.strip():
            return f"recorded `{a.strip()[:70]}`, answered `{b.strip()[:70]}`"
    a_lines, b_lines = want.splitlines(), got.splitlines()
    if len(a_lines) > len(b_lines):
        return f"recorded `{a_lines[len(b_lines)].strip()[:70]}`, answered nothing more"
    if len(b_lines) > len(a_lines):
        return f"answered `{b_lines[len(a_lines)].strip()[:70]}` beyond the recording"
    return "whitespace"


_CLASSES = (
    ("differs", "The stand-in answers differently (served)"),
    ("drift", "Version drift: drpcli v4.8 or v4.8's models against the 2019 recording"),
    ("not-served", "Not served: a test or object type the stand-in does not serve"),
    ("not-extracted", "Not extracted: a command the replay cannot compute"),
)


def markdown(cases: list[Case]) -> str:
    """Every case that does not answer as recorded, by class, reason and test."""
    s = summary(cases)
    out = [f"{s['matched']} of {s['served']} served cases answer as DRP did "
           f"({s['cases']} cases replayed).", "",
           f"Of the served cases, {s['served_requesting']} make at least one HTTP request "
           f"to the stand-in (the others are answered by drpcli alone: usage, argument "
           f"errors); {s['matched_requesting']} of those answer as DRP did.", ""]
    for klass, title in _CLASSES:
        chosen = [c for c in cases if c.result.get("class") == klass]
        out += [f"#### {title}: {len(chosen)}", ""]
        for c in chosen:
            name = c.loc or f"{c.test}#{c.index}"
            if klass == "differs":
                r = c.result
                stream = "out" if r["want_out"] != r["out"] else "err"
                why = ("exit status; " if any("exit" in p for p in r["problems"]) else "") + \
                    f"std{stream}: " + _first_difference(r[f"want_{stream}"], r[stream])
            elif klass == "not-served":
                why = ("it follows `machines processjobs` (drpcli's agent) in its test and "
                       "shows the jobs the agent ran: the task runner is not served"
                       if c.result.get("after_agent") else
                       "its test or object type is not served")
            else:
                why = c.result.get("why", "")
            out.append(f"- `{name}`: {why.replace('|', '/')}")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--provision", default=os.environ.get("DRP_PROVISION_GIT"),
                    help="git dir or work tree of digitalrebar/provision (DRP_PROVISION_GIT)")
    ap.add_argument("--rev", default=os.environ.get("DRP_PROVISION_SUITE_REV", SUITE_REV),
                    help=f"commit carrying the suite (default {SUITE_REV})")
    ap.add_argument("--drpcli", default=os.environ.get("DRP_DRPCLI"),
                    help="the drpcli binary (DRP_DRPCLI)")
    ap.add_argument("--incrementer", default=os.environ.get("DRP_INCREMENTER"),
                    help="the incrementer provider binary the tests upload (DRP_INCREMENTER)")
    ap.add_argument("--drp-plugin", default=str(Path(sys.executable).with_name("drp-plugin")),
                    help="the drp-plugin command (default: next to this Python)")
    ap.add_argument("--test", action="append", help="replay only this test (repeatable)")
    ap.add_argument("--json", help="write every case's result to this file")
    ap.add_argument("--markdown", help="write the classified list of differences here")
    ap.add_argument("-v", "--verbose", action="store_true", help="show each difference")
    opts = ap.parse_args(argv)
    if not opts.provision or not opts.drpcli:
        ap.error("--provision (DRP_PROVISION_GIT) and --drpcli (DRP_DRPCLI) are required")
    inc = Path(opts.incrementer) if opts.incrementer else None
    cases = replay(opts.provision, opts.rev, opts.drpcli, inc, [opts.drp_plugin],
                   set(opts.test) if opts.test else None)
    for line in _iter_report(cases, opts.verbose):
        print(line)
    s = summary(cases)
    print(f"{s['matched']} of {s['served']} served cases answer as DRP did "
          f"({s['cases']} cases: " + ", ".join(f"{k} {v}" for k, v in
                                               sorted(s["classes"].items())) + ")")
    print(f"{s['matched_requesting']} of the {s['served_requesting']} served cases that "
          "make at least one request to the stand-in answer as DRP did")
    if opts.markdown:
        Path(opts.markdown).write_text(markdown(cases))
    if opts.json:
        Path(opts.json).write_text(json.dumps(
            {"summary": s, "cases": [{"test": c.test, "loc": c.loc, "args": c.args,
                                      "stdin": c.stdin, **c.result} for c in cases
                                     if c.result]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
