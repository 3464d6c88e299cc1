"""The machinery of the callback provider.

Kept out of ``callback.py`` so that ``define`` only pays for this empty package:
the submodules (and httpx, Jinja2) are imported by the handlers when they run.

- :mod:`.settings`: the plugin params ``callback/callbacks``, ``callback/auths``
  and ``callback/proxy``, checked and turned into objects.
- :mod:`.auth`: basic, ``json-token`` and ``exec`` authentication, token caches.
- :mod:`.render`: the Jinja2 sandbox and the template names (``Machine``,
  ``Param``, ``ApiURL``, ...).
- :mod:`.send`: one callback request with its auth chain, retries and deadline.
- :mod:`.transport`: one HTTP request bounded in total time and in the bytes of
  its answer read (``CALLBACK_RESPONSE_MAX_BYTES``).
- :mod:`.errors`: the ``models.Error`` shape of the plugin's errors.
- :mod:`.engine`: the plugin state: config, the ``callbackDo`` action, the
  ``taskcomplete``/``jobfail`` events and their per-machine queues.

The plugin's version is ``[project].version`` of ``pyproject.toml`` (one source for
``define`` from source and the built file).
"""
