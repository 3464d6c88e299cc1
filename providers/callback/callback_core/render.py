"""Templates of ``Url`` and of a string ``callback/data-override``: Jinja2, sandboxed.

The Go plugin rendered these with Go's ``text/template``; this port uses Jinja2's
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (a template can neither
reach Python internals nor modify the data it is given) with the same names:

==========================  ==============================================================
Go                          here
==========================  ==============================================================
``{{.Machine.Name}}``       ``{{ Machine.Name }}`` (every machine field; also ``Machine["Name"]``)
``{{.Machine.UUID}}``       ``{{ Machine.UUID }}``; also ``ShortName``, ``HexAddress``,
                            ``Path``, ``Url``, ``Prefix``, ``Key``
``{{.Machine.MacAddr}}``    ``{{ Machine.MacAddr }}`` or ``{{ Machine.MacAddr("pxelinux") }}``
``{{.Machine.HasProfile "p"}}``  ``{{ Machine.HasProfile("p") }}``
``{{.Param "x"}}``          ``{{ Param("x") }}``; also ``ParamExists``, ``ParamExpand``,
                            ``ParamAsJSON``, ``ParamAsYAML``
``{{.ApiURL}}``             ``{{ ApiURL }}``; also ``ProvisionerAddress``, ``ProvisionerURL``
``{{.Info.Address}}``       ``{{ Info.Address }}`` (Go field names or the JSON keys)
``{{.ParseUrl "host" u}}``  ``{{ ParseUrl("host", u) }}``
``{{.GetAuthString "a"}}``  ``{{ GetAuthString("a") }}``
==========================  ==============================================================

Output rules: ``None`` prints as nothing, booleans as ``true``/``false``, objects
and lists as compact JSON, so a template builds JSON naturally.  An undefined
name or field is an error (not an empty string).  Go's template functions (sprig)
are replaced by Jinja2's filters and tests (``upper``, ``default``, ``tojson``,
``join``, ``replace``, ``is defined`` ...).

Templates come from admins and, through ``ParamExpand``, from machine params, so
rendering is bounded: it runs in a thread of its own (never on the event loop that
answers actions, ``/stop`` and logging), for at most ``timeout`` seconds of template
work (the API calls and programs it waits for are not counted: they have their own
timeouts), and its output is at most ``max_bytes``.  ``*``, ``**`` and ``+`` are
checked before they build a huge string, list or number, and ``range`` and every
call and attribute check the clock.  A render over a limit is answered 400 naming
the limit; its thread, if stuck in one long operation, is left to finish, and at
most ``MAX_STUCK`` such threads may exist before renders are refused (503).
Settings: ``CALLBACK_TEMPLATE_TIMEOUT`` (seconds, default 5) and
``CALLBACK_TEMPLATE_MAX_BYTES`` (default 1 MiB) in the provider's environment, or
``Renderer(timeout=, max_bytes=)``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from drp_plugin import PluginError

from .errors import clip, fail, text_of
from .settings import env_limit

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from jinja2 import Template
    from jinja2.runtime import Context as JinjaContext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

#: How deep ``ParamExpand`` may nest (a param expanding itself must end).
MAX_EXPAND_DEPTH = 8
#: Seconds of template work one render may take (a template takes milliseconds; the
#: default leaves room for big machines on a loaded host).
DEFAULT_TIMEOUT = 5.0
#: Bytes one render may produce (a URL or a request body: 1 MiB is generous).
DEFAULT_MAX_BYTES = 1024 * 1024
#: Render threads still running past their time limit before renders are refused.
MAX_STUCK = 4
_TEMPLATE_MARKS = ("{{", "{%", "{#")
_GO_SYNTAX = re.compile(r"\{\{-?\s*(\.|if\s+\.|range\s+\.|template\s)")
#: Go field names of ``models.Info`` whose JSON key is not their snake case.
_INFO_ALIASES = {
    "ProvisionerEnabled": "prov_enabled",
    "SecureProvisionerEnabled": "secure_prov_enabled",
    "Os": "os",
    "Id": "id",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_template(text: str) -> bool:
    """Whether ``text`` has anything for Jinja2 to do."""
    return any(mark in text for mark in _TEMPLATE_MARKS)


class GoText(str):
    """A string that may also be called without arguments, like a Go method.

    ``{{ ApiURL }}`` and ``{{ ApiURL() }}`` both work, which eases porting templates.
    """

    def __call__(self) -> str:
        return str(self)


class MacAddr(str):
    """The machine's first MAC address; call it with a format (``raw``, ``pxelinux``, ``rpi4``)."""

    def __call__(self, fmt: str = "raw") -> str:
        if fmt in ("pxelinux", "pxe"):
            return "01-" + self.replace(":", "-")
        if fmt == "rpi4":
            return self.replace(":", "-")
        return str(self)


class InfoView(dict):  # type: ignore[type-arg]
    """``models.Info`` (JSON keys such as ``api_port``) that also answers Go names (``ApiPort``)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        key = _INFO_ALIASES.get(name) or _CAMEL.sub("_", name).lower()
        for candidate in (name, key):
            if candidate in self:
                return self[candidate]
        raise AttributeError(name)


class MachineView(dict):  # type: ignore[type-arg]
    """The machine object (its JSON fields) with the Go plugin's helper methods."""

    def __init__(self, machine: dict[str, Any], info: InfoView) -> None:
        super().__init__(machine)
        self._info = info

    @property
    def UUID(self) -> GoText:  # noqa: N802 - Go's name, used by templates
        return GoText(self.get("Uuid") or "")

    @property
    def Key(self) -> GoText:  # noqa: N802
        return self.UUID

    @property
    def Prefix(self) -> GoText:  # noqa: N802
        return GoText("machines")

    @property
    def ShortName(self) -> GoText:  # noqa: N802
        return GoText(str(self.get("Name") or "").split(".", 1)[0])

    @property
    def HexAddress(self) -> GoText:  # noqa: N802
        try:
            addr = ipaddress.ip_address(str(self.get("Address") or ""))
        except ValueError:
            return GoText("")
        if isinstance(addr, ipaddress.IPv6Address):
            mapped = addr.ipv4_mapped
            if mapped is None:
                return GoText("")
            addr = mapped
        return GoText(f"{int(addr):08X}")

    @property
    def Path(self) -> GoText:  # noqa: N802
        return GoText(f"machines/{self.UUID}")

    @property
    def Url(self) -> GoText:  # noqa: N802
        return GoText(f"http://{self._info.get('address', '')}:{self._info.get('file_port', 0)}"
                      f"/{self.Path}")

    @property
    def MacAddr(self) -> MacAddr:  # noqa: N802
        addrs = self.get("HardwareAddrs") or []
        return MacAddr(addrs[0] if addrs and isinstance(addrs[0], str) else "")

    def HasProfile(self, name: str) -> bool:  # noqa: N802
        return name in (self.get("Profiles") or [])


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def _parse_url(segment: str, raw_url: str) -> str:
    try:
        parts = urlsplit(raw_url)
    except ValueError as exc:
        raise fail(400, f"ParseUrl: {exc}") from None
    if segment == "scheme":
        return parts.scheme
    if segment == "host":
        return parts.netloc
    if segment == "path":
        return parts.path
    raise fail(400, f"ParseUrl: no URL part {segment!r} (scheme, host or path)")


class RenderLimit(Exception):
    """A render went over its time or size limit."""


class _Budget:
    """The limits of one render, checked from its thread."""

    def __init__(self, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline = time.monotonic() + timeout
        self.waiting = 0  # helper calls (API, programs) in progress: not template work
        self.expired = False

    def check(self) -> None:
        if self.expired or (self.waiting == 0 and time.monotonic() > self.deadline):
            self.expired = True
            raise RenderLimit(f"template rendering took longer than {self.timeout:g}s")

    def size(self, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            raise RenderLimit(f"template output is larger than {self.max_bytes} bytes")

    def wait_for(self, call: Callable[[], Any]) -> Any:
        """Run a helper that waits on the event loop; its time is not template work."""
        self.waiting += 1
        started = time.monotonic()
        try:
            return call()
        finally:
            self.waiting -= 1
            self.deadline += time.monotonic() - started


_current = threading.local()


def _budget() -> _Budget:
    budget: _Budget | None = getattr(_current, "budget", None)
    if budget is None:
        raise RenderLimit("template rendering outside a bounded render")
    return budget


def _sized(value: Any) -> int | None:
    """A size in bytes to compare with the limit, for what may grow huge."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return len(value) * 8
    return None


def _limited_range(*args: int) -> Iterator[int]:
    from jinja2.sandbox import safe_range

    budget = _budget()
    for n, value in enumerate(safe_range(*args)):
        if not n % 256:
            budget.check()
        yield value


def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class LimitedSandbox(ImmutableSandboxedEnvironment):
        """The sandbox, plus the clock and size checks of the running render."""

        intercepted_binops = frozenset(["*", "**", "+"])

        def call_binop(self, context: JinjaContext, operator: str, left: Any, right: Any) -> Any:
            budget = _budget()
            budget.check()
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    size = _sized(seq)
                    if size is not None and isinstance(times, int):
                        budget.size(size * max(times, 0))
            elif operator == "+":
                a, b = _sized(left), _sized(right)
                if a is not None and b is not None:
                    budget.size(a + b)
            elif operator == "**" and isinstance(left, int) and isinstance(right, int) \
                    and abs(left) > 1 and right > 0:
                budget.size(left.bit_length() * right // 8)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: JinjaContext, __obj: Any, *args: Any,  # noqa: N805
                 **kwargs: Any) -> Any:
            _budget().check()
            return super().call(__context, __obj, *args, **kwargs)

        def getattr(self, obj: Any, attribute: str) -> Any:
            _budget().check()
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            _budget().check()
            return super().getitem(obj, argument)

    env = LimitedSandbox(autoescape=False, undefined=StrictUndefined, finalize=_finalize,
                         keep_trailing_newline=True)
    env.globals["range"] = _limited_range
    return env


class Renderer:
    """Compiles (and caches) templates; renders them, bounded, with :class:`TemplateData`.

    ``timeout`` (seconds of template work) and ``max_bytes`` (output size) default
    to ``CALLBACK_TEMPLATE_TIMEOUT`` / ``CALLBACK_TEMPLATE_MAX_BYTES`` or 5 s / 1 MiB.
    """

    def __init__(self, *, timeout: float | None = None, max_bytes: int | None = None) -> None:
        self.env = _environment()
        self.timeout = timeout if timeout is not None else env_limit(
            "CALLBACK_TEMPLATE_TIMEOUT", DEFAULT_TIMEOUT, float)
        self.max_bytes = max_bytes if max_bytes is not None else int(env_limit(
            "CALLBACK_TEMPLATE_MAX_BYTES", DEFAULT_MAX_BYTES, int))
        self.stuck = 0  # render threads still running past their limit
        self._cache: dict[str, Template] = {}

    def compile(self, source: str, what: str) -> Template:
        from jinja2 import TemplateSyntaxError

        template = self._cache.get(source)
        if template is None:
            try:
                template = self.env.from_string(source)
            except TemplateSyntaxError as exc:
                hint = ""
                if _GO_SYNTAX.search(source):
                    hint = (" (this looks like Go template syntax: this plugin uses Jinja2, "
                            "e.g. {{ Machine.Name }} and {{ Param(\"name\") }})")
                raise fail(400, f"{what}: template error on line {exc.lineno}: "
                                f"{exc.message}{hint}") from None
            if len(self._cache) >= 256:
                self._cache.pop(next(iter(self._cache)))
            self._cache[source] = template
        return template

    async def render(self, source: str, data: TemplateData, what: str) -> str:
        """``source`` rendered with ``data``, in a thread, bounded; 400 naming ``what``."""
        if not is_template(source):
            return source
        template = self.compile(source, what)
        if self.stuck >= MAX_STUCK:
            raise fail(503, f"{what}: {self.stuck} template renders are still running past "
                            "their time limit; try again later")
        loop = asyncio.get_running_loop()
        budget = _Budget(self.timeout, self.max_bytes)
        done: asyncio.Future[str] = loop.create_future()
        names = data.names(self, loop)

        def settle(result: str | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result or "")

        def work() -> None:
            _current.budget = budget
            try:
                result = self._generate(template, names, budget)
            except BaseException as exc:  # handed to the loop, never lost
                loop.call_soon_threadsafe(settle, None, exc)
            else:
                loop.call_soon_threadsafe(settle, result, None)
            finally:
                _current.budget = None

        thread = threading.Thread(target=work, name="callback-render", daemon=True)
        thread.start()
        try:
            return await self._wait(done, budget, thread)
        except RenderLimit as exc:
            raise fail(400, f"{what}: {exc}") from None
        except PluginError as exc:
            raise fail(400, f"{what}: {text_of(exc)}") from None
        except Exception as exc:  # what a template does wrong: undefined names, bad calls
            raise fail(400, f"{what}: {type(exc).__name__}: {exc}") from None

    async def _wait(self, done: asyncio.Future[str], budget: _Budget,
                    thread: threading.Thread) -> str:
        while True:
            left = budget.deadline - time.monotonic()
            await asyncio.wait([done], timeout=max(left, 0.0) + 0.05)
            if done.done():
                return done.result()
            if budget.waiting == 0 and time.monotonic() > budget.deadline:
                budget.expired = True  # the thread stops at its next check
                self._watch(thread)
                raise RenderLimit(f"template rendering took longer than {budget.timeout:g}s")

    def _watch(self, thread: threading.Thread) -> None:
        """Count ``thread`` as stuck until it ends (a thread cannot be killed)."""
        self.stuck += 1
        loop = asyncio.get_running_loop()

        def wait() -> None:
            thread.join()
            loop.call_soon_threadsafe(self._unstuck)

        threading.Thread(target=wait, name="callback-render-watch", daemon=True).start()

    def _unstuck(self) -> None:
        self.stuck -= 1

    def render_nested(self, source: str, data: TemplateData, what: str, names: dict[str, Any]) -> str:
        """A render inside a render (``ParamExpand``): same thread, same budget."""
        if not is_template(source):
            return source
        template = self.compile(source, what)
        try:
            return self._generate(template, names, _budget())
        except (RenderLimit, PluginError):
            raise
        except Exception as exc:
            raise fail(400, f"{what}: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _generate(template: Template, names: dict[str, Any], budget: _Budget) -> str:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(names):
            size += len(chunk)
            budget.size(size)
            budget.check()
            parts.append(chunk)
        text = "".join(parts)
        budget.size(len(text.encode("utf-8", errors="surrogatepass")))
        return text


class TemplateData:
    """What templates see: the machine (params as fetched), DRP's info, helper functions.

    ``param_default(name)`` gives a Param's default (its schema ``default``) for
    ``Param`` when the machine has no value; ``program(name)`` runs an exec auth
    for ``GetAuthString``.
    """

    def __init__(self, machine: dict[str, Any], info: dict[str, Any],
                 param_default: Callable[[str], Awaitable[Any]],
                 program: Callable[[str], Awaitable[str]]) -> None:
        self.info = InfoView(info)
        self.machine = MachineView(machine, self.info)
        params = machine.get("Params")
        self.params: dict[str, Any] = params if isinstance(params, dict) else {}
        self._param_default = param_default
        self._program = program
        self._defaults: dict[str, Any] = {}
        self._depth = 0

    async def param(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        if name not in self._defaults:
            self._defaults[name] = await self._param_default(name)
        return self._defaults[name]

    def names(self, renderer: Renderer, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
        """The names a template sees; they are called from the render's thread.

        Helpers that need the API or a program run on ``loop`` (where the clients
        live); the render waits for them, and that time is not template work.
        """
        info = self.info
        address = str(info.get("address") or "")

        def on_loop(coro: Awaitable[Any]) -> Any:
            async def run() -> Any:
                return await coro

            return _budget().wait_for(
                lambda: asyncio.run_coroutine_threadsafe(run(), loop).result())

        def param(name: str) -> Any:
            if name in self.params:
                return self.params[name]
            return on_loop(self.param(name))

        def param_expand(name: str) -> Any:
            value = param(name)
            if not isinstance(value, str):
                return value
            if self._depth >= MAX_EXPAND_DEPTH:
                raise fail(400, f"ParamExpand {name}: nested more than {MAX_EXPAND_DEPTH} deep")
            self._depth += 1
            try:
                return renderer.render_nested(value, self, f"ParamExpand {name}", names)
            finally:
                self._depth -= 1

        def param_as_json(name: str) -> str:
            return json.dumps(param(name), separators=(",", ":"), ensure_ascii=False)

        def param_as_yaml(name: str) -> str:
            import yaml

            return str(yaml.safe_dump(param(name), default_flow_style=False))

        def get_auth_string(name: str) -> str:
            try:
                return str(on_loop(self._program(name)))
            except PluginError as exc:
                raise fail(400, f"GetAuthString {name}: {clip(text_of(exc))}") from None

        provisioner_url = GoText(f"http://{address}:{info.get('file_port', 0)}")
        names: dict[str, Any] = {
            "Machine": self.machine,
            "Info": info,
            "Param": param,
            "ParamExists": lambda name: name in self.params,
            "ParamExpand": param_expand,
            "ParamAsJSON": param_as_json,
            "ParamAsYAML": param_as_yaml,
            "ProvisionerAddress": GoText(address),
            "ProvisionerURL": provisioner_url,
            "ProvisionURL": provisioner_url,
            "ApiURL": GoText(f"https://{address}:{info.get('api_port', 0)}"),
            "ParseUrl": _parse_url,
            "ParseURL": _parse_url,
            "GetAuthString": get_auth_string,
        }
        return names
