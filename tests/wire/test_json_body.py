"""``http1.decode_json`` against ``json.loads``, the library it narrows.

Same bytes in, same value out, or both refuse: JSON documents in every encoding
``json.detect_encoding`` knows (UTF-8 with and without BOM, UTF-16 and UTF-32 in
both byte orders), plus arbitrary bytes.  The one deliberate difference: NaN,
Infinity and numbers beyond a float64 are refused (Go's encoding/json cannot read
them), where ``json.loads`` accepts them.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drp_plugin.protocol import http1

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]


def outcome(decode: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "value", decode(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return "refused", None


def has_non_finite(text: str) -> bool:
    try:
        json.loads(text, parse_constant=lambda name: 1 / 0,
                   parse_float=lambda s: 1 / 0 if math.isinf(float(s)) else float(s))
    except ZeroDivisionError:
        return True
    except ValueError:
        return False
    return False


@settings(max_examples=400, deadline=None)
@given(values, st.sampled_from(ENCODINGS), st.sampled_from([None, 0, 2]))
def test_documents_in_every_encoding(value: Any, encoding: str, indent: int | None) -> None:
    body = json.dumps(value, indent=indent, ensure_ascii=False).encode(encoding, "surrogatepass")
    assert outcome(http1.decode_json, body) == outcome(json.loads, body)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40) | st.sampled_from([b"{\x00}\x00", b'"\x00', b"[\x00\x00\x00",
                                                   b"\xef\xbb\xbf{}", b"{", b"", b'"\xed\xa0\x80"']))
def test_arbitrary_bytes(body: bytes) -> None:
    ours, theirs = outcome(http1.decode_json, body), outcome(json.loads, body)
    if ours != theirs:  # only ever the deliberate difference
        assert ours == ("refused", None)
        assert has_non_finite(body.decode(json.detect_encoding(body), "surrogatepass"))


@pytest.mark.parametrize("body", [b"NaN", b'{"x": Infinity}', b"[-Infinity]", b"1e999",
                                  b'{"x": -1e400}'])
def test_non_finite_numbers_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        http1.decode_json(body)
    json.loads(body)  # the stdlib reads them
