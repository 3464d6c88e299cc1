"""Start-up of a built provider (copied into the built file as ``_drp_bootstrap.py``).

The generated ``__main__.py`` checks the Python version, then calls :func:`run`
with what the build stamped: the version, the content bundles and the asset
list.  :func:`run` fills :mod:`drp_plugin.stamp` and runs the provider module
as ``__main__`` (like ``python -m <module>``, with ``sys.argv`` left alone so the
program name stays the built file's).

Assets are not loaded here: ``stamp.ASSETS`` is a mapping that reads them from
the built file with :mod:`zipfile` only when ``unpack`` asks for them, so
``define`` stays fast.  Only modules that are already loaded when a zip
application starts (``sys``, ``os``, ``types``, ``zipimport``) are used at start.
"""

from __future__ import annotations

import os
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, KeysView
    from typing import Any

#: Where the assets live inside the built file.
ASSET_PREFIX = "_drp_assets/"
#: What was built (name, version, packages), readable without running the file.
MANIFEST = "_drp_build.json"


class ZipAssets:
    """``relative path -> (mode, bytes)``, read from the built file on demand."""

    def __init__(self, archive: str, modes: dict[str, int]) -> None:
        self.archive = archive
        self.modes = dict(modes)

    def __len__(self) -> int:
        return len(self.modes)

    def __iter__(self) -> Iterator[str]:
        return iter(self.modes)

    def __contains__(self, rel: object) -> bool:
        return rel in self.modes

    def keys(self) -> KeysView[str]:
        return self.modes.keys()

    def __getitem__(self, rel: str) -> tuple[int, bytes]:
        mode = self.modes[rel]
        import zipfile

        with zipfile.ZipFile(self.archive) as zf:
            return mode, zf.read(ASSET_PREFIX + rel)

    def items(self) -> Iterator[tuple[str, tuple[int, bytes]]]:
        if not self.modes:
            return
        import zipfile

        with zipfile.ZipFile(self.archive) as zf:
            for rel, mode in self.modes.items():
                yield rel, (mode, zf.read(ASSET_PREFIX + rel))

    def values(self) -> Iterator[tuple[int, bytes]]:
        for _, value in self.items():
            yield value

    def get(self, rel: str, default: Any = None) -> Any:
        return self[rel] if rel in self.modes else default

    def __repr__(self) -> str:
        return f"ZipAssets({self.archive!r}, {len(self.modes)} file(s))"


def run(
    loader: Any,
    main_file: str,
    module: str,
    version: str,
    content: dict[str, str],
    archive_content: dict[str, str],
    assets: dict[str, int],
) -> None:
    """Stamp the build-time data into :mod:`drp_plugin.stamp`, then run ``module``.

    ``loader`` and ``main_file`` are the ``__loader__`` (a ``zipimporter``) and
    ``__file__`` of the generated ``__main__``; ``content`` maps the provider's
    ``content`` value to its bundle; ``archive_content`` maps a content folder
    given as an absolute path inside the provider's folder (computed from
    ``__file__``) to its bundle, by its path relative to that folder: here it is
    found under the built file's path; ``assets`` maps each asset to its file mode.
    """
    archive = os.path.dirname(os.path.abspath(main_file))
    find_spec = getattr(loader, "find_spec", None)
    spec = find_spec(module) if find_spec is not None else None
    if spec is None or spec.loader is None:
        sys.stderr.write(f"{archive}: the provider module {module} is missing from this file\n")
        raise SystemExit(1)

    from drp_plugin import stamp

    bundles = dict(content)
    for rel, text in archive_content.items():
        for root in {archive, os.path.realpath(archive)}:
            bundles.setdefault(os.path.join(root, rel), text)
    stamp.VERSION = version
    stamp.CONTENT = bundles
    # A mapping read on demand (stamp.ASSETS is typed as a dict; only .items() is used).
    stamp.ASSETS = ZipAssets(archive, assets)  # type: ignore[assignment]  # duck-typed Mapping: no imports at start

    main = types.ModuleType("__main__")
    main.__file__ = spec.origin
    main.__loader__ = spec.loader
    main.__spec__ = spec
    main.__package__ = ""
    main.__dict__["__builtins__"] = __builtins__
    code = spec.loader.get_code(module)
    sys.modules["__main__"] = main
    exec(code, main.__dict__)  # noqa: S102 - the provider module, from this file
