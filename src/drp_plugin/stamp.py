"""What a built single-file provider stamps in at build time.

``drp-plugin build`` writes a ``__main__`` that fills these before the provider
module is imported.  When running from source they stay ``None`` and the provider
computes everything from its files.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: The provider version chosen at build time (project metadata or ``git describe``).
VERSION: str | None = None
#: Content bundles computed at build time, by content directory name.
CONTENT: dict[str, str] | None = None
#: Embedded assets: relative path -> (mode, bytes), read from the built file.
ASSETS: Mapping[str, tuple[int, bytes]] | None = None
