"""Content layer versions and prerequisites, as DRP checks them when a pack is loaded.

Facts (recorded ``TestContentVersions``, provision ``af452c8a~1``; DRP reads versions
with semantic-versioning rules and prerequisites as ``"name, other: <range>"``):

* A pack's ``meta.Version``, when not empty, must be a semantic version; a leading ``v``
  and missing minor/patch numbers are tolerated (``0.1``, ``v4.8.0``).  Otherwise the
  upload is refused: "Layer basic: invalid version 1.2.foo: Invalid character(s) found
  in patch number "foo"".
* ``meta.Prerequisites`` is a comma-separated list of layer names, each optionally
  followed by ``: <range>`` (``>=3.12.0``, ``>=3.12.x``, ``<2.0.0 || >=3.0.0``).  A range
  that cannot be read refuses the upload ("Layer basic: error parsing prerequisites
  ...: Invalid version requirement for BasicStore: Could not parse Range ...").
* A prerequisite layer that is missing, or whose version is outside the range, is only
  a warning of the loaded pack ("Layer basic has foo as a prerequisite, but foo does
  not exist!", "Layer basic prerequisite test on BasicStore failed").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_IDENT = re.compile(r"^[0-9A-Za-z-]+$")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """Precedence: a pre-release sorts before its release; numeric identifiers sort
        numerically and before alphanumeric ones."""
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)


def _number(text: str, which: str) -> int:
    if not text or not text.isdigit():
        raise ValueError(f"Invalid character(s) found in {which} number {_quote(text)}")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"{which.capitalize()} number must not contain leading zeroes "
                         f"{_quote(text)}")
    return int(text)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse(text: str) -> Version:
    """A strict ``MAJOR.MINOR.PATCH[-pre][+build]``; ``ValueError`` with DRP's wording."""
    if not text:
        raise ValueError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise ValueError("No Major.Minor.Patch elements found")
    major = _number(parts[0], "major")
    minor = _number(parts[1], "minor")
    rest, _, build = parts[2].partition("+")
    patch_text, dash, pre_text = rest.partition("-")
    patch = _number(patch_text, "patch")
    pre: tuple[str, ...] = ()
    if dash:
        pre = tuple(pre_text.split("."))
        for ident in pre:
            if not _IDENT.match(ident):
                raise ValueError(f"Invalid character(s) found in prerelease {_quote(ident)}")
            if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                raise ValueError(f"Version contains leading zeroes: {_quote(ident)}")
    if build and not all(_IDENT.match(b) for b in build.split(".")):
        raise ValueError(f"Invalid character(s) found in build meta data {_quote(build)}")
    return Version(major, minor, patch, pre)


def parse_tolerant(text: str) -> Version:
    """:func:`parse` after trimming spaces and a leading ``v``, with missing minor and
    patch numbers taken as 0."""
    text = text.strip().removeprefix("v")
    parts = text.split(".", 2)
    if len(parts) < 3:
        if any(c in parts[-1] for c in "+-"):
            raise ValueError("Short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
        text = ".".join(parts)
    return parse(text)


_OPS: dict[str, Callable[[tuple[object, ...], tuple[object, ...]], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b, "": lambda a, b: a == b,
}
Range = list[list[tuple[str, Version]]]  # OR of ANDs of (operator, version)


def _expand_wildcard(op: str, text: str) -> list[tuple[str, str]]:
    """``3.12.x`` and ``3.x`` (``x``, ``X`` or ``*``) as plain comparisons."""
    parts = text.split(".")
    wild = [i for i, p in enumerate(parts) if p in ("x", "X", "*")]
    if not wild:
        return [(op, text)]
    first = wild[0]
    if first == 0 or len(parts) > 3 or any(p not in ("x", "X", "*") for p in parts[first:]):
        return [(op, text)]  # left to the version parser to refuse
    nums = parts[:first]
    low = ".".join(nums + ["0"] * (3 - len(nums)))
    bumped = nums[:-1] + [str(int(nums[-1]) + 1) if nums[-1].isdigit() else nums[-1]]
    high = ".".join(bumped + ["0"] * (3 - len(bumped)))
    return {">=": [(">=", low)], ">": [(">=", high)], "<": [("<", low)],
            "<=": [("<", high)]}.get(op, [(">=", low), ("<", high)])


def parse_range(text: str) -> Range:
    """A version range (``>=1.2.3 <2.0.0 || 3.x``); ``ValueError`` with DRP's wording."""
    out: Range = []
    for alternative in text.split("||"):
        conj: list[tuple[str, Version]] = []
        words = re.sub(r"(>=|<=|!=|==|>|<|=)\s+", r"\1", alternative.strip()).split()
        if not words:
            raise ValueError(f"Could not parse Range {_quote(text)}: empty range")
        for word in words:
            match = re.match(r"^(>=|<=|!=|==|>|<|=)?(.*)$", word)
            assert match is not None
            op = match.group(1) or ""
            if op == "!=" and any(p in ("x", "X", "*") for p in match.group(2).split(".")):
                raise ValueError(f"Could not parse Range {_quote(word)}: "
                                 "wildcards are not supported with !=")
            for one_op, vtext in _expand_wildcard(op, match.group(2)):
                try:
                    conj.append((one_op, parse(vtext)))
                except ValueError as err:
                    raise ValueError(f"Could not parse Range {_quote(word)}: Could not "
                                     f"parse version {_quote(vtext)} in "
                                     f"{_quote(op + match.group(2))}: {err}") from None
        out.append(conj)
    return out


def in_range(version: Version, wanted: Range) -> bool:
    return any(all(_OPS[op](version.key(), v.key()) for op, v in conj) for conj in wanted)


def prerequisites(text: str) -> list[tuple[str, Range | None]]:
    """``"foo, BasicStore: >=3.12.x"`` as ``[(name, range or None), ...]``."""
    out: list[tuple[str, Range | None]] = []
    for item in text.split(","):
        name, colon, spec = item.strip().partition(":")
        name = name.strip()
        if not name:
            continue
        if not colon or not spec.strip():
            out.append((name, None))
            continue
        try:
            out.append((name, parse_range(spec.strip())))
        except ValueError as err:
            raise ValueError(f"Invalid version requirement for {name}: {err}") from None
    return out


def check_layer(name: str, meta: dict[str, object],
                layers: Iterable[tuple[str, str]]) -> list[str]:
    """The warnings of loading layer ``name`` among ``layers`` (``(name, version)`` of
    the others); ``ValueError`` ("Layer <name>: ...") when it cannot be loaded."""
    version = meta.get("Version")
    if isinstance(version, str) and version:
        try:
            parse_tolerant(version)
        except ValueError as err:
            raise ValueError(f"Layer {name}: invalid version {version}: {err}") from None
    wanted = meta.get("Prerequisites")
    if not isinstance(wanted, str) or not wanted.strip():
        return []
    try:
        needs = prerequisites(wanted)
    except ValueError as err:
        raise ValueError(f"Layer {name}: error parsing prerequisites {wanted}: {err}") from None
    known = dict(layers)
    warnings: list[str] = []
    for other, spec in needs:
        if other not in known:
            warnings.append(f"Layer {name} has {other} as a prerequisite, "
                            f"but {other} does not exist!")
            continue
        if spec is None:
            continue
        try:
            ok = in_range(parse_tolerant(known[other]), spec)
        except ValueError:
            ok = False
        if not ok:
            warnings.append(f"Layer {name} prerequisite test on {other} failed")
    return warnings
