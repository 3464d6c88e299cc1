"""Read a provider module's :class:`~drp_plugin.Provider` in a child process.

``python -m drp_plugin.shipping.probe MODULE.py OUT.json`` imports the module (not as
``__main__``, so its ``provider.main()`` guard does not fire; an unguarded
``provider.main()`` call is intercepted) and writes what the build needs as JSON:
the provider's name, ``content``, ``assets``, ``base_dir`` and explicit
``version``, and the modules it imported from its own folder (helpers that must
go into the built file too).

It runs in a child so that importing the author's code cannot disturb the build
(and sees the same interpreter and installed packages as the built file will).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from typing import Any


class _MainCalled(BaseException):
    """Raised by the intercepted ``Provider.main`` to stop the module there."""


def _local_modules(folder: str, skip: set[str]) -> list[dict[str, Any]]:
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
            found.append({"name": name, "path": path, "package": False})
        elif os.path.basename(path) == "__init__.py" and os.path.dirname(os.path.dirname(path)) == real:
            found.append({"name": name, "path": os.path.dirname(path), "package": True})
    return found


def probe(module_path: str) -> dict[str, Any]:
    """Import ``module_path`` and describe its provider."""
    from drp_plugin.provider import Provider

    module_path = os.path.abspath(module_path)
    folder = os.path.dirname(module_path)
    called: list[Provider] = []

    def intercepted_main(self: Provider, argv: Any = None) -> None:
        called.append(self)
        raise _MainCalled

    Provider.main = intercepted_main  # type: ignore[method-assign]
    sys.argv = [module_path]
    sys.path.insert(0, folder)
    before = set(sys.modules)
    namespace: dict[str, Any] = {}
    try:
        namespace = runpy.run_path(module_path, run_name="__drp_build__")
    except _MainCalled:
        pass
    if called:
        provider = called[0]
    else:
        providers = {id(v): v for v in namespace.values() if isinstance(v, Provider)}
        if not providers:
            raise SystemExit(f"{module_path} creates no drp_plugin.Provider (or App) at module level")
        if len(providers) > 1:
            named = [namespace[n] for n in ("provider", "app") if isinstance(namespace.get(n), Provider)]
            if not named:
                raise SystemExit(f"{module_path} creates {len(providers)} providers; "
                                 "name the one to build `provider`")
            provider = named[0]
        else:
            provider = next(iter(providers.values()))
    loaded = set(sys.modules) - before
    content = provider.content
    return {
        "name": provider.name,
        "class": f"{type(provider).__module__}.{type(provider).__qualname__}",
        "content": os.fspath(content) if content is not None else None,
        "assets": [os.fspath(a) for a in provider.assets],
        "base_dir": os.path.abspath(provider.base_dir),
        "version": provider._version,
        "module_file": module_path,
        "local_modules": _local_modules(folder, skip={n for n in sys.modules if n not in loaded}),
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit("usage: python -m drp_plugin.shipping.probe MODULE.py OUT.json")
    info = probe(args[0])
    with open(args[1], "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
