"""The provider's own modules (``providers/filebeat/filebeat_core``) for the unit tests here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

FOLDER = Path(__file__).resolve().parents[2] / "providers" / "filebeat"


@pytest.fixture(scope="module")
def fb() -> Iterator[SimpleNamespace]:
    """The classes and functions of ``filebeat_core`` the tests use, imported from the
    provider's folder (on ``sys.path`` only while they are imported)."""
    sys.path.insert(0, str(FOLDER))
    try:
        from filebeat_core import errors, files, filtering, pipeline, pump, settings, spool

        yield SimpleNamespace(
            Spool=spool.Spool, SpoolFile=spool.SpoolFile, Pump=pump.Pump,
            Pipeline=pipeline.Pipeline, Settings=settings.Settings, FileSink=files.FileSink,
            SinkError=errors.SinkError, shape_event=filtering.shape_event,
            encode_event=filtering.encode_event)
    finally:
        sys.path.remove(str(FOLDER))
