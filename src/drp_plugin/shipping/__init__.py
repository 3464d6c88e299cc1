"""Shipping providers: ``drp-plugin build``, ``upload``, ``providers`` and ``new``.

- :func:`~drp_plugin.shipping.zipapp.build` turns a provider into one executable
  zip application (pure Python, CPython >= 3.11, any CPU);
- :mod:`~drp_plugin.shipping.upload` talks to DRP's ``plugin_providers`` API;
- :mod:`~drp_plugin.shipping.scaffold` creates a new provider project.

None of this is bundled into built providers.
"""

from .zipapp import BuildResult, build

__all__ = ["BuildResult", "build"]
