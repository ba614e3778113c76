"""The ``vxlanlens`` click group, its error handling and the console-script entry point."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

import click

from .._version import __version__
from ..decode.stack import COMPILED
from ..errors import VxlanlensError
from ..read._common import C_WALK
from ..report.packets import printable

__all__ = ["InputError", "cli", "main", "one_line"]


class InputError(click.ClickException):
    """A problem with the input: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"vxlanlens: error: {printable(self.format_message())}", err=True, file=file)


class _PipeClosed(Exception):
    """The reader of stdout went away (not an OSError, so that click does not exit 1)."""


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one printable line of at most 200 characters."""
    return printable(" ".join(str(exc).split())[:200])


class _Group(click.Group):
    """Turns the library's errors into :class:`InputError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VxlanlensError as exc:
            raise InputError(str(exc)) from exc
        except BrokenPipeError as exc:
            raise _PipeClosed() from exc
        except MemoryError as exc:  # numpy's _ArrayMemoryError included
            raise InputError(
                "out of memory; try fewer or smaller captures (or more memory)"
                + (f" ({one_line(exc)})" if str(exc) else "")
            ) from exc


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(
    __version__,
    "-V",
    "--version",
    prog_name="vxlanlens",
    message=(
        f"%(prog)s %(version)s (record walk in {'C' if C_WALK else 'Python'}; common paths decoded"
        f" in {'C' if COMPILED else 'NumPy'})"
    ),
)
def cli() -> None:
    """Explain Kubernetes overlay (Cilium VXLAN / Geneve) packet captures.

    CAPTURE is a pcap or pcapng file (possibly gzip/bzip2/xz/zstd-compressed), LABEL=FILE to
    name it, or - for standard input.
    """


def _system_arrow_pool() -> None:
    """Text columns are Arrow arrays (pandas 3's ``str``): run as the program, their memory
    comes from the C library's allocator, whose free memory each stage hands back
    (``Capture._trim_heap``), not from Arrow's own pool, which kept 20-40 MB more resident
    per process when explaining a million frames. ``ARROW_DEFAULT_MEMORY_POOL``, when set,
    is left to decide."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - pandas' text columns need it here
        return
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``vxlanlens`` console script: runs a command and exits with its
    status (0 success, 1 input problem, 2 usage, 3 ``--fail-on``, 130 interrupt)."""
    if argv is None:
        _system_arrow_pool()
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="vxlanlens",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("vxlanlens: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f" (try '{exc.ctx.command_path} --help')"
        click.echo(f"vxlanlens: error: {one_line(Exception(exc.format_message()))}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if isinstance(exc, InputError):
            exc.show()
        else:
            click.echo(f"vxlanlens: error: {one_line(Exception(exc.format_message()))}", err=True)
        sys.exit(exc.exit_code)
    except MemoryError:
        click.echo("vxlanlens: error: out of memory", err=True)
        sys.exit(1)
    except (BrokenPipeError, _PipeClosed):
        # the reader of our stdout went away (e.g. `| head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("vxlanlens: interrupted", err=True)
        sys.exit(130)
    if argv is None:
        # Run as the program (its own command line), which exits now: the command's output
        # is written and closed (outputs are renamed into place when complete; stdout is
        # flushed by the interpreter). Frozen objects are left out of the interpreter's last
        # collection at exit, which otherwise walks every table, topology and explanation
        # object once more (about 0.1 s after explaining 300,000 frames); they are still
        # freed as their references go. (Called with ``argv``, from Python, nothing changes.)
        gc.freeze()
    sys.exit(rv if isinstance(rv, int) else 0)
