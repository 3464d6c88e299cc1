"""Patch building: guards, pointers, param ops."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drp_plugin.api.patch import (
    UNSET,
    guards,
    make_patch,
    param_add,
    param_remove,
    param_replace,
    pointer,
)


def test_pointer_escapes_tilde_then_slash() -> None:
    assert pointer("incrementer/parameter") == "/incrementer~1parameter"
    assert pointer("a~b", "c/~d", 0) == "/a~0b/c~1~0d/0"
    assert pointer() == ""


def test_param_ops() -> None:
    assert param_add("a/b", 1) == [{"op": "add", "path": "/a~1b", "value": 1}]
    assert param_replace("a/b", 2) == [{"op": "replace", "path": "/a~1b", "value": 2}]
    assert param_replace("a/b", 2, expected=1) == [
        {"op": "test", "path": "/a~1b", "value": 1},
        {"op": "replace", "path": "/a~1b", "value": 2},
    ]
    assert param_remove("x~y") == [{"op": "remove", "path": "/x~0y"}]
    assert param_remove("x", expected=None) == [
        {"op": "test", "path": "/x", "value": None},
        {"op": "remove", "path": "/x"},
    ]
    assert repr(UNSET) == "UNSET"


def test_guards_test_old_values_of_changed_members() -> None:
    old = {"Name": "m", "Params": {"a/b": 1, "keep": 2, "gone": [1]}, "List": [1, 2], "Flag": True}
    new = {"Name": "m", "Params": {"a/b": 5, "keep": 2, "new": 1}, "List": [1], "Flag": 1}
    assert guards(old, new) == [
        {"op": "test", "path": "/Params/a~1b", "value": 1},
        {"op": "test", "path": "/Params/gone", "value": [1]},
        {"op": "test", "path": "/List", "value": [1, 2]},
        {"op": "test", "path": "/Flag", "value": True},
    ]


def test_unguarded_patch_and_no_change() -> None:
    assert make_patch({"a": 1}, {"a": 2}) == [{"op": "replace", "path": "/a", "value": 2}]
    assert make_patch({"a": 1}, {"a": 1}, guard=True) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(st.text(max_size=4), json_values, max_size=5)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(documents, documents)
def test_guarded_patch_turns_old_into_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    ops = make_patch(old, new, guard=True)
    assert jsonpatch.apply_patch(copy.deepcopy(old), ops) == new


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(documents, documents)
def test_guards_reject_any_concurrent_change_of_a_changed_value(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    ops = make_patch(old, new, guard=True)
    for op in ops:
        if op["op"] != "test":
            continue
        meddled = copy.deepcopy(old)
        jsonpatch.JsonPointer(op["path"]).resolve(meddled)  # the tested path exists in old
        meddled = jsonpatch.apply_patch(
            meddled, [{"op": "replace", "path": op["path"], "value": {"meddled": True}}]
        )
        with pytest.raises(jsonpatch.JsonPatchTestFailed):
            jsonpatch.apply_patch(meddled, ops)
