"""The machinery of the ipmi provider.

Kept out of ``ipmi.py`` so that ``define`` pays for nothing but this empty package:
the submodules (and asyncio, httpx) are imported by the handlers when they run.

- :mod:`.settings`: the provider's own settings (environment: timeouts, bounds, the
  ipmitool binary and cipher suite), checked on config.
- :mod:`.request`: one action's params (mode, address, port, credentials, boot
  mode, identify duration), checked, as the Go provider reads them minus its panics.
- :mod:`.ipmitool`: ``ipmi/mode`` ``ipmitool``: ``ipmitool -I lanplus`` run as a
  child without a shell, the password in its environment (``-E``), never on its
  command line.
- :mod:`.redfish`: ``ipmi/mode`` ``redfish``: the Redfish calls of the Go provider
  (gofish) made with httpx and HTTP basic auth.
- :mod:`.errors`: the ``models.Error`` shapes of the Go provider's answers.
"""
