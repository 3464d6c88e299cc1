"""mkdocs hook: drop the Sphinx roles (``:class:``, ``:func:``, ...) of the docstrings.

The docstrings are written for ``help()`` and Sphinx-style readers; mkdocstrings
renders ``:class:`X``` as the literal text ``:class:`` followed by ``X`` in code.
This keeps the code and drops the role prefix.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):(?=<code)")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Remove the role prefix in front of inline code."""
    return _ROLE.sub("", html)
