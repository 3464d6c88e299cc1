"""Read a provider module's :class:`~drp_plugin.Provider` in a child process.

``python -m drp_plugin.shipping.probe MODULE.py OUT.json`` imports the module and
writes a :class:`ProbeResult` as JSON: the provider's name, ``content``,
``assets``, ``base_dir``, explicit ``version``, whether it has a ``validate``
handler, and the modules it imported from its own folder (helpers that must go
into the built file too).

The module runs under the name ``__drp_build__``, so a ``provider.main()`` behind
``if __name__ == "__main__"`` does not fire.  An unguarded ``provider.main()``
runs as DRP would first run it, ``define`` with ``RS_TOKEN=catalog``: its output
is swallowed and the module goes on.  The provider is the module-level
:class:`~drp_plugin.Provider` (``provider`` or ``app`` when there are several),
else the only one alive.  Nothing of drp_plugin is patched.

It runs in a child so that importing the author's code cannot disturb the build.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LocalModule:
    """A module the provider imported from its own folder."""

    name: str
    path: str
    package: bool


@dataclass(frozen=True)
class ProbeResult:
    """What the build needs to know about the provider (JSON between the processes)."""

    name: str
    class_name: str
    content: str | None
    assets: list[str]
    base_dir: str
    version: str | None
    module_file: str
    has_validate: bool = False
    local_modules: list[LocalModule] = field(default_factory=list)

    def to_json(self) -> str:
        """The JSON text of this result."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProbeResult:
        """Read what :meth:`to_json` wrote (a ``ValueError`` for anything else)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the probe result is not an object")
        try:
            return cls(
                name=str(data["name"]), class_name=str(data["class_name"]),
                content=None if data["content"] is None else str(data["content"]),
                assets=[str(a) for a in data["assets"]], base_dir=str(data["base_dir"]),
                version=None if data["version"] is None else str(data["version"]),
                module_file=str(data["module_file"]), has_validate=bool(data["has_validate"]),
                local_modules=[LocalModule(str(m["name"]), str(m["path"]), bool(m["package"]))
                               for m in data["local_modules"]],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"the probe result lacks {exc}") from None


def _local_modules(folder: str, skip: set[str]) -> list[LocalModule]:
    """Top-level modules loaded from ``folder`` (a file ``x.py`` or a package ``x/``)."""
    found = []
    real = os.path.realpath(folder)
    for name, module in sorted(sys.modules.items()):
        if "." in name or name in skip or module is None:
            continue
        file = getattr(module, "__file__", None)
        if not file:
            continue
        path = os.path.realpath(file)
        if os.path.dirname(path) == real and path.endswith(".py"):
            if os.path.basename(path) == "__init__.py":
                continue
            found.append(LocalModule(name, path, False))
        elif os.path.basename(path) == "__init__.py" and os.path.dirname(os.path.dirname(path)) == real:
            found.append(LocalModule(name, os.path.dirname(path), True))
    return found


def _choose(namespace: dict[str, Any], module_path: str) -> Any:
    from drp_plugin.provider import BaseProvider

    providers = {id(v): v for v in namespace.values() if isinstance(v, BaseProvider)}
    if not providers:
        import gc

        providers = {id(o): o for o in gc.get_objects() if isinstance(o, BaseProvider)}
    if not providers:
        raise SystemExit(f"{module_path} creates no drp_plugin.Provider (or App)")
    if len(providers) == 1:
        return next(iter(providers.values()))
    named = [namespace[n] for n in ("provider", "app") if isinstance(namespace.get(n), BaseProvider)]
    if not named:
        raise SystemExit(f"{module_path} creates {len(providers)} providers; "
                         "name the one to build `provider`")
    return named[0]


def probe(module_path: str) -> ProbeResult:
    """Import ``module_path`` and describe its provider."""
    module_path = os.path.abspath(module_path)
    folder = os.path.dirname(module_path)
    sys.argv = [module_path, "define"]
    os.environ["RS_TOKEN"] = "catalog"
    sys.path.insert(0, folder)
    before = set(sys.modules)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            namespace = runpy.run_path(module_path, run_name="__drp_build__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise
            namespace = {}
    provider = _choose(namespace, module_path)
    loaded = set(sys.modules) - before
    content = provider.content
    return ProbeResult(
        name=provider.name,
        class_name=f"{type(provider).__module__}.{type(provider).__qualname__}",
        content=os.fspath(content) if content is not None else None,
        assets=[os.fspath(a) for a in provider.assets],
        base_dir=os.path.abspath(provider.base_dir),
        version=provider._version,
        module_file=module_path,
        has_validate=getattr(provider, "validate_handler", None) is not None,
        local_modules=_local_modules(folder, skip={n for n in sys.modules if n not in loaded}),
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m drp_plugin.shipping.probe MODULE.py OUT.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit("usage: python -m drp_plugin.shipping.probe MODULE.py OUT.json")
    result = probe(args[0])
    with open(args[1], "w", encoding="utf-8") as fh:
        fh.write(result.to_json())


if __name__ == "__main__":
    main()
