"""Helpers of the stand-in tests."""

from __future__ import annotations

import re
from typing import IO


def serve_credentials(stdout: IO[str], lines: int = 10) -> tuple[str, str]:
    """``(RS_ENDPOINT, RS_TOKEN)`` from the ``export ...`` line that ``drp-plugin serve``
    prints among its first ``lines`` lines; empty strings when it printed none."""
    for _ in range(lines):
        line = stdout.readline()
        if "RS_TOKEN=" in line:
            endpoint = re.search(r"RS_ENDPOINT=(\S+)", line)
            token = re.search(r"RS_TOKEN=(\S+)", line)
            return (endpoint.group(1) if endpoint else "", token.group(1) if token else "")
    return "", ""
