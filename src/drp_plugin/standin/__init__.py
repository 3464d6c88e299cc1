"""A local dr-provision stand-in for developing and testing plugin providers.

``StandIn`` runs in the caller's event loop (``async with StandIn() as drp``);
``StandInThread`` runs the same server in a background thread for sync code.

It serves, on loopback: the HTTPS REST API ``/api/v3`` and event stream
``/api/v3/ws`` (self-signed certificate), a plain HTTP file server for the
webroot, and one from-plugin unix socket per running plugin; it installs
providers (``define``, ``unpack``, content, ``StoreObjects``), runs their plugins
(``listen``, ``config``, actions, ``publish``, ``stop``) and records their logs
and events.

Out of scope (answered with a 404 that says so): DHCP, TFTP, ISOs, the machine
agent and task runner, contexts, pools, roles, tenants, licensing, HA.
Tasks, stages, bootenvs, workflows and jobs are stored, never run.  Secure params
are sealed with NaCl as DRP does, and kept in clear in memory (see ``secure``).
Content sections of types it does not serve are skipped with a warning in ``logs``.
"""

from __future__ import annotations

from .logs import LogRecord
from .server import StandIn
from .thread import StandInThread

__all__ = ["LogRecord", "StandIn", "StandInThread"]
