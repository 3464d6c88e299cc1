"""The machinery of the filebeat provider.

Kept out of ``filebeat.py`` so that ``define`` only pays for this empty package:
the submodules (and asyncio) are imported by the handlers when they run.

- :mod:`.settings`: the plugin params ``filebeat/*``, checked and turned into a
  :class:`~.settings.Settings`.
- :mod:`.filtering`: what a DRP event becomes: one JSON line, ``gohai-inventory``
  emptied and ``OS`` renamed ``MachineOS`` for machines.
- :mod:`.files`: the file sink: append, follow rotation, whole lines only.
- :mod:`.tcp`: the TCP sink: knows how many bytes the peer acknowledged.
- :mod:`.spool`: the ordered queue of lines, in memory then in a spool file.
- :mod:`.forwarder`: spool to sink, in order, sending again what was not
  acknowledged.
- :mod:`.pump`: event subscription to spool, with hand-over on a new selection.
- :mod:`.pipeline`: one configured plugin (stream, pump, spool, forwarder): start,
  re-config and the bounded flush on stop.
- :mod:`.errors`: the plugin's ``models.Error`` and the sinks' write error.
"""

NAME = "filebeat"
