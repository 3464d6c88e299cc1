#!/usr/bin/env python3
"""Regenerate ``src/drp_plugin/drp_models.json``: the DRP v4 model field names and types.

The bundler (:mod:`drp_plugin.content`) gives every scalar of a content file the
type of the DRP model field it lands in, drops fields that no model has, and fills
no field that the model lacks, the way ``drpcli contents bundle`` does by decoding
each file into its ``models`` struct.  The fields come from the Go sources of
``github.com/digitalrebar/provision/v4/models``::

    # a bare git mirror or a checkout of github.com/digitalrebar/provision
    python tools/gen_drp_models.py /path/to/provision [--rev v4.8.0] [--check]

``--check`` exits 1 when the recorded file differs from what the sources give
(``tests/runtime/test_drp_models.py`` runs it when ``DRP_PROVISION_GIT`` names a
mirror).  To move to a newer DRP: regenerate with the new ``--rev``, run
``tests/runtime/test_bundle.py``, and commit the data file.

What is recorded, per struct of ``models/*.go``: its JSON fields in declaration
order with their Go types, the key field (tagged ``index:",key"``), embedded structs flattened (an outer field wins, as in
``encoding/json``), unexported and ``json:"-"`` fields left out; named non-struct
types (``Meta`` -> ``map[string]string``); and which struct each prefix decodes
into (the ``Prefix()`` methods).  The parser reads gofmt'ed declarations only
(one field per line), which is how the models package is written.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "src" / "drp_plugin" / "drp_models.json"
REPO = "github.com/digitalrebar/provision"

_STRUCT = re.compile(r"^type (\w+) struct \{\s*$")
_NAMED = re.compile(r"^type (\w+) ((?:\[\]|map\[|\*)[^{]*?|string|bool|u?int\d*|float\d+)\s*$")
_PREFIX = re.compile(
    r"^func \(\w+ \*?(\w+)\) Prefix\(\) string \{\s*\n\s*return \"([\w-]+)\"", re.M)
_TAG = re.compile(r'json:"([^"]*)"')


def _strip_comment(line: str) -> str:
    """The line without a ``//`` comment (the models have no ``//`` inside strings)."""
    inside = False
    for i, ch in enumerate(line):
        if ch in '`"':
            inside = not inside
        elif ch == "/" and not inside and line[i:i + 2] == "//":
            return line[:i]
    return line


def parse_go(sources: dict[str, str]) -> dict[str, object]:
    """Structs, named types and prefixes of Go files (``{file name: text}``)."""
    raw: dict[str, list[tuple[str, str, bool]]] = {}  # struct -> (name, type, embedded)
    keys: dict[str, str] = {}  # struct -> the field tagged index:",key" (its Key())
    named: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    for _, text in sorted(sources.items()):
        for m in _PREFIX.finditer(text):
            prefixes[m.group(2)] = m.group(1)
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            ms = _STRUCT.match(line)
            mn = _NAMED.match(_strip_comment(line).rstrip())
            if mn and not ms:
                named[mn.group(1)] = mn.group(2).strip()
            if not ms:
                i += 1
                continue
            fields: list[tuple[str, str, bool]] = []
            i += 1
            while i < len(lines) and lines[i].strip() != "}":
                body = _strip_comment(lines[i]).strip()
                i += 1
                if not body:
                    continue
                tag = ""
                if "`" in body:
                    body, _, rest = body.partition("`")
                    tag = rest.rstrip("`")
                    body = body.strip()
                multi = re.match(r"^(\w+(?:\s*,\s*\w+)+)\s+(.+)$", body)
                parts = [multi.group(1), multi.group(2)] if multi else body.split(None, 1)
                tm = _TAG.search(tag)
                json_name = tm.group(1).split(",")[0] if tm else ""
                if json_name == "-":
                    continue
                if len(parts) == 1:  # embedded
                    typ = parts[0].lstrip("*")
                    base = typ.rsplit(".", 1)[-1]
                    if not base[:1].isupper():
                        continue
                    fields.append((json_name or base, typ, not json_name))
                    continue
                names, typ = parts
                if re.search(r'index:"[^"]*\bkey\b', tag):
                    keys[ms.group(1)] = json_name or names.strip()
                for name in (n.strip() for n in names.split(",")):
                    if name[:1].isupper():
                        fields.append((json_name or name, typ.strip(), False))
            raw[ms.group(1)] = fields
            i += 1

    def flatten(struct: str, seen: tuple[str, ...] = ()) -> dict[str, str]:
        out: dict[str, str] = {}
        promoted: dict[str, str] = {}
        for name, typ, embedded in raw[struct]:
            if embedded and typ in raw and typ not in seen:
                for k, v in flatten(typ, (*seen, struct)).items():
                    promoted.setdefault(k, v)
            else:
                out[name] = typ
        for k, v in promoted.items():
            out.setdefault(k, v)
        return out

    structs = {name: flatten(name) for name in sorted(raw)}
    return {"prefixes": dict(sorted(prefixes.items())), "keys": dict(sorted(keys.items())),
            "structs": structs,
            "named": dict(sorted(named.items()))}


def read_models(repo: Path, rev: str) -> tuple[dict[str, str], str]:
    """``models/*.go`` (tests left out) of ``repo`` at ``rev``, and the commit id."""
    def git(*args: str) -> str:
        return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True,  # noqa: S603
                              capture_output=True, text=True).stdout

    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    commit = git("rev-parse", f"{rev}^{{commit}}").strip()
    names = [n for n in git("ls-tree", "--name-only", commit, "models/").split()
             if n.endswith(".go") and not n.endswith("_test.go")]
    return {n: git("show", f"{commit}:{n}") for n in names}, commit


def generate(repo: Path, rev: str) -> dict[str, object]:
    """The data file's content for ``repo`` at ``rev``."""
    sources, commit = read_models(repo, rev)
    data: dict[str, object] = {
        "source": {"repository": REPO, "commit": commit, "files": "models/*.go",
                   "generator": "tools/gen_drp_models.py"},
    }
    data.update(parse_go(sources))
    return data


def dumps(data: dict[str, object]) -> str:
    """The file's text: stable, one struct per line block, sorted."""
    return json.dumps(data, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("repo", type=Path, help="git mirror or checkout of " + REPO)
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--check", action="store_true", help="compare with the recorded file")
    ap.add_argument("--out", type=Path, default=DATA)
    args = ap.parse_args(argv)
    text = dumps(generate(args.repo, args.rev))
    if args.check:
        same = args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'differs from the sources'}")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
