"""A local dr-provision stand-in for developing and testing plugin providers.

``StandIn`` runs in the caller's event loop (``async with StandIn() as drp``);
``StandInThread`` runs the same server in a background thread for sync code.

It serves, on loopback: the HTTPS REST API ``/api/v3`` and event stream
``/api/v3/ws`` (self-signed certificate), a plain HTTP file server for the
webroot, and one from-plugin unix socket per running plugin; it installs
providers (``define``, ``unpack``, content, ``StoreObjects``), runs their plugins
(``listen``, ``config``, actions, ``publish``, ``stop``) and records their logs
and events.

Out of scope (answered with a 404 that says so): DHCP, TFTP, ISOs, bootenvs,
stages, tasks, workflows, jobs and the machine agent, contexts, pools, roles,
tenants, user management beyond tokens, content bundles as objects, licensing,
HA, and NaCl-encrypted secure params (values are kept in clear, shown as
look-alike envelopes; see ``secure``).  Content sections of those types are
skipped with a warning in ``logs``.
"""

from __future__ import annotations

from .logs import LogRecord
from .server import StandIn
from .thread import StandInThread

__all__ = ["LogRecord", "StandIn", "StandInThread"]
