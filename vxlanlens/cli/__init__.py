"""The ``vxlanlens`` command: a thin click layer over the library.

Machine output goes to stdout (or ``-o FILE``), diagnostics to stderr. Exit status: 0 success,
1 a problem with the input (one line naming the file and where), 2 a usage error, 3 a finding
at ``--fail-on``'s severity, 130 an interrupt. Every error is one line starting
``vxlanlens: error:``; every file written is reported as ``vxlanlens: wrote FILE``.

One module per command group: :mod:`.tables` (packets, exchanges), :mod:`.explain` (explain,
report, diagram, annotate), :mod:`.topology`, :mod:`.watch`. Every command that reads captures
takes its options from :func:`.options.read_options` (one :class:`~vxlanlens.ReadOptions`,
also the source of the reproducing command line); :mod:`.output` writes ``-o FILE`` safely.
A reader that goes away (``vxlanlens packets x.pcap | head``) ends the command quietly.
"""

from __future__ import annotations

from . import explain, tables, topology, watch
from ._app import cli, main

__all__ = ["cli", "main"]

_COMMAND_MODULES = (explain, tables, topology, watch)  # imported for their commands
