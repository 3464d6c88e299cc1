"""callback templates render off the event loop, bounded in time and size (issue 10 item 9).

The templates are the adversarial ones of the report: a nested ``range(100000)``
loop and ``{{ 'x' * 2000000000 }}``; before, the first froze the event loop (every
action, ``/stop`` and logging) for seconds and the second ended in MemoryError.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from drp_plugin.errors import PluginError

from .conftest import PROVIDER_DIR


@pytest.fixture(scope="module")
def render_mod() -> Iterator[ModuleType]:
    sys.path.insert(0, str(PROVIDER_DIR))
    try:
        import callback_core.render

        yield callback_core.render
    finally:
        sys.path.remove(str(PROVIDER_DIR))


def data(mod: ModuleType, params: dict[str, Any] | None = None) -> Any:
    async def param_default(name: str) -> Any:
        await asyncio.sleep(0)
        return {"d/slow": "from the API"}.get(name)

    async def program(name: str) -> str:
        await asyncio.sleep(0.3)  # a slow program: waiting for it is not template work
        return "token-" + name

    return mod.TemplateData({"Name": "n1", "Uuid": "u-1", "Params": params or {}},
                            {"address": "127.0.0.1", "api_port": 8092, "file_port": 8091},
                            param_default, program)


NESTED = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


async def test_a_runaway_loop_stops_at_the_time_limit_and_the_loop_stays_free(
        render_mod: ModuleType) -> None:
    renderer = render_mod.Renderer(timeout=0.5)
    render = asyncio.create_task(renderer.render(NESTED, data(render_mod), "Url of callback x"))
    await asyncio.sleep(0.05)
    # The event loop ran this while the template was being rendered (before: it could not).
    assert not render.done()
    with pytest.raises(PluginError) as info:
        await render
    assert info.value.code == 400
    assert info.value.messages == ["Url of callback x: template rendering took longer than 0.5s"]


@pytest.mark.parametrize("source", [
    "{{ 'x' * 2000000000 }}",
    "{{ 2000000000 * 'x' }}",
    "{{ [1] * 2000000000 }}",
    "{{ 10 ** 1000000000 }}",
    "{% for i in range(100000) %}0123456789{% endfor %}",
    "{{ ParamExpand('big') }}",
])
async def test_output_and_values_are_bounded_in_bytes(render_mod: ModuleType, source: str) -> None:
    renderer = render_mod.Renderer(max_bytes=64 * 1024)
    with pytest.raises(PluginError) as info:
        await renderer.render(source, data(render_mod, {"big": "{{ 'y' * 100000 }}"}),
                              "callback/data-override")
    assert info.value.code == 400
    assert info.value.messages[0].startswith("callback/data-override: ")
    assert info.value.messages[0].endswith("larger than 65536 bytes")


async def test_helpers_still_work_and_their_wait_is_not_counted(render_mod: ModuleType) -> None:
    renderer = render_mod.Renderer(timeout=0.2)
    text = await renderer.render(
        "{{ Param('d/slow') }} {{ GetAuthString('a') }} {{ GetAuthString('b') }} "
        "{{ ParamExpand('e') }} {{ 'ab' * 3 }} {{ [1, 2] + [3] }}",
        data(render_mod, {"e": "{{ Machine.Name }}!"}), "Url")
    assert text == "from the API token-a token-b n1! ababab [1,2,3]"


def test_settings_from_the_environment(render_mod: ModuleType,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    renderer = render_mod.Renderer()
    assert (renderer.timeout, renderer.max_bytes) == (5.0, 1024 * 1024)
    monkeypatch.setenv("CALLBACK_TEMPLATE_TIMEOUT", "2.5")
    monkeypatch.setenv("CALLBACK_TEMPLATE_MAX_BYTES", "4096")
    renderer = render_mod.Renderer()
    assert (renderer.timeout, renderer.max_bytes) == (2.5, 4096)
    monkeypatch.setenv("CALLBACK_TEMPLATE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CALLBACK_TEMPLATE_TIMEOUT='soon' is not valid"):
        render_mod.Renderer()
