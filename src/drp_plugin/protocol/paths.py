"""The URL paths of the plugin protocol (docs/protocol.md), written once.

DRP calls the plugin on the to-plugin socket under :data:`TO_PLUGIN`; the plugin
calls DRP on the from-plugin socket under :data:`FROM_PLUGIN`.  The provider's router
and back channel, the log shipper, the stand-in's from-plugin server, the
process host and the in-process test client all import them from here.
"""

from __future__ import annotations

#: Prefix of DRP's calls to the plugin (the to-plugin socket).
TO_PLUGIN = "/api-plugin/v4"
CONFIG = TO_PLUGIN + "/config"
ACTION = TO_PLUGIN + "/action"
PUBLISH = TO_PLUGIN + "/publish"
STOP = TO_PLUGIN + "/stop"

#: Prefix of the plugin's calls to DRP (the from-plugin socket).
FROM_PLUGIN = "/api-server-plugin/v4"
DRP_PUBLISH = FROM_PLUGIN + "/publish"
DRP_LOG = FROM_PLUGIN + "/log"
DRP_LEAVING = FROM_PLUGIN + "/leaving"

__all__ = ["ACTION", "CONFIG", "DRP_LEAVING", "DRP_LOG", "DRP_PUBLISH", "FROM_PLUGIN", "PUBLISH",
           "STOP", "TO_PLUGIN"]
