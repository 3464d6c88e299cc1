"""Every public method of the API clients is a real function: signature and docstring.

The API calls are written once, as flows in ``drp_plugin.api.operations``; each has
one method on ``Client`` and one on ``AsyncClient``. These tests hold the three
together: what ``inspect``, ``help()``, IDEs, mypy and the docs site read is the
twins' own source, so it must say what the flow does.
"""

from __future__ import annotations

import inspect
import pydoc

import pytest

from drp_plugin import Context, SyncContext
from drp_plugin.api import AsyncClient, Client, operations

FLOWS = sorted(
    name for name, fn in vars(operations).items()
    if inspect.isfunction(fn) and fn.__module__ == operations.__name__ and not name.startswith("_")
)
#: Public names one client has and the other has not.
ONLY_ASYNC = {"aclose"}  # httpx's name for AsyncClient.close, kept as an alias


def _public(cls: type) -> dict[str, object]:
    return {
        name: inspect.getattr_static(cls, name)
        for name in dir(cls)
        if not name.startswith("_")
    }


def _params(fn: object) -> list[tuple[str, object, object, str]]:
    """(name, kind, default, annotation) of each parameter but ``self``."""
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [
        (p.name, p.kind, p.default, str(p.annotation).replace("_filters.", ""))
        for p in sig.parameters.values()
        if p.name != "self"
    ]


def test_flows_are_found() -> None:
    assert {"get", "get_param", "set_param", "run_action", "append_job_log", "list"} <= set(FLOWS)


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_every_public_method_has_a_signature_and_a_docstring(cls: type) -> None:
    methods = 0
    for name, member in _public(cls).items():
        if isinstance(member, property):
            assert member.__doc__, f"{cls.__name__}.{name}: property without a docstring"
            continue
        fn = getattr(cls, name)
        if not callable(fn):
            continue
        methods += 1
        sig = inspect.signature(fn)  # raises on a descriptor it cannot read
        assert not any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()), (
            f"{cls.__name__}.{name}{sig}: *args hides the real parameters"
        )
        assert inspect.getdoc(fn), f"{cls.__name__}.{name} has no docstring"
    assert methods >= len(FLOWS)


@pytest.mark.parametrize("name", FLOWS)
def test_each_flow_has_twins_with_its_parameters(name: str) -> None:
    flow = getattr(operations, name)
    sync = inspect.getattr_static(Client, name)
    coro = inspect.getattr_static(AsyncClient, name)
    assert inspect.isfunction(sync) and not inspect.iscoroutinefunction(sync)
    assert inspect.iscoroutinefunction(coro)
    # same parameters, in the same order, kinds and defaults, as each other and as the flow
    assert _params(sync) == _params(coro) == _params(flow)
    # the flow returns Flow[X]; the methods X (the async one awaitable of it)
    returns = str(inspect.signature(flow).return_annotation)
    assert returns.startswith("Flow[") and returns.endswith("]")
    assert inspect.signature(sync).return_annotation == returns[5:-1]
    assert inspect.signature(coro).return_annotation == returns[5:-1]
    assert sync.__doc__ and sync.__doc__ == coro.__doc__
    assert sync.__module__ == "drp_plugin.api.sync"
    assert coro.__module__ == "drp_plugin.api.client"


def test_the_twins_have_the_same_public_names() -> None:
    sync, coro = set(_public(Client)), set(_public(AsyncClient))
    assert coro - sync == ONLY_ASYNC
    assert sync - coro == set()


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_help_shows_the_real_parameters(cls: type) -> None:
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    assert "*args, **kwargs" not in text
    assert "get_param(self, prefix: 'str', key: 'str', name: 'str', *" in text
    assert "append_job_log(self, uuid: 'str', text: 'bytes | str')" in text


def test_the_handler_contexts_hand_out_these_clients() -> None:
    # what a handler's ctx.api is: an editor follows these annotations to the methods
    assert inspect.get_annotations(Context.api.fget)["return"] == "AsyncClient"  # type: ignore[attr-defined]
    assert inspect.get_annotations(SyncContext.api.fget)["return"] == "Client"  # type: ignore[attr-defined]
