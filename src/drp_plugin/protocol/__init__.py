"""The plugin side of the protocol: the to-plugin server, the back channel, logging.

Nothing here is imported by ``define``: the server stack loads only for ``listen``.
"""
