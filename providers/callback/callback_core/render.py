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
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from drp_plugin import PluginError

from .errors import clip, fail, text_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

#: How deep ``ParamExpand`` may nest (a param expanding itself must end).
MAX_EXPAND_DEPTH = 8
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


def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        enable_async=True, autoescape=False, undefined=StrictUndefined,
        finalize=_finalize, keep_trailing_newline=True,
    )


class Renderer:
    """Compiles (and caches) templates; renders them with :class:`TemplateData`."""

    def __init__(self) -> None:
        self.env = _environment()
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
        """``source`` rendered with ``data`` (400 naming ``what`` on any template error)."""
        if not is_template(source):
            return source
        template = self.compile(source, what)
        try:
            return await template.render_async(data.names(self))
        except PluginError as exc:
            raise fail(400, f"{what}: {text_of(exc)}") from None
        except Exception as exc:  # what a template does wrong: undefined names, bad calls
            raise fail(400, f"{what}: {type(exc).__name__}: {exc}") from None


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

    def names(self, renderer: Renderer) -> dict[str, Any]:
        info = self.info
        address = str(info.get("address") or "")

        async def param_expand(name: str) -> Any:
            value = await self.param(name)
            if not isinstance(value, str):
                return value
            if self._depth >= MAX_EXPAND_DEPTH:
                raise fail(400, f"ParamExpand {name}: nested more than {MAX_EXPAND_DEPTH} deep")
            self._depth += 1
            try:
                return await renderer.render(value, self, f"ParamExpand {name}")
            finally:
                self._depth -= 1

        async def param_as_json(name: str) -> str:
            return json.dumps(await self.param(name), separators=(",", ":"), ensure_ascii=False)

        async def param_as_yaml(name: str) -> str:
            import yaml

            return str(yaml.safe_dump(await self.param(name), default_flow_style=False))

        async def get_auth_string(name: str) -> str:
            try:
                return await self._program(name)
            except PluginError as exc:
                raise fail(400, f"GetAuthString {name}: {clip(text_of(exc))}") from None

        provisioner_url = GoText(f"http://{address}:{info.get('file_port', 0)}")
        return {
            "Machine": self.machine,
            "Info": info,
            "Param": self.param,
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
