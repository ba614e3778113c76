"""Indented JSON text, fast: what ``json.dumps(obj, indent=2, default=str)`` gives, byte for
byte, without the standard library's generator-based encoder (the C encoder does not indent
before Python 3.13, so an indented report of a large capture spent most of its time there).

Values are written as :mod:`json` writes them: strings with ``ensure_ascii`` (the C escaping
function), ``int.__repr__`` for integers (``bool`` first), ``float.__repr__`` with ``NaN`` and
``Infinity`` for floats, lists and tuples as arrays, dicts in insertion order with their keys
turned into strings as :mod:`json` turns them, and anything else through ``default``.
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _text  # type: ignore[attr-defined]
from typing import Any

__all__ = ["dumps_indented"]

_INF = float("inf")


def dumps_indented(obj: Any, *, indent: int = 2, default: Callable[[Any], Any] = str) -> str:
    """``json.dumps(obj, indent=indent, default=default)`` (keys in insertion order, ASCII
    only, NaN allowed), made by appending the pieces to one list."""
    out: list[str] = []
    _Writer(out, " " * indent, default).value(obj, "\n")
    return "".join(out)


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


def _key(k: Any) -> str:
    """A dict key as :mod:`json` writes it (``TypeError`` for a key it refuses)."""
    if isinstance(k, str):
        return _text(k)  # type: ignore[no-any-return]
    text = _scalar(k) if isinstance(k, (float, int)) or k is None else None
    if text is None:
        raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")
    return '"' + text + '"'


def _scalar(o: Any) -> str | None:
    """The text of a value that is no container (``None`` for a list, tuple, dict or a value
    that goes through ``default``)."""
    if isinstance(o, str):
        return _text(o)  # type: ignore[no-any-return]
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return _float(o)
    return None


class _Writer:
    def __init__(self, out: list[str], step: str, default: Callable[[Any], Any]) -> None:
        self.out = out
        self.step = step
        self.default = default

    def scalar(self, o: Any) -> str | None:
        """The text of a value that is no container (see :func:`_scalar`)."""
        return _scalar(o)

    def value(self, o: Any, nl: str) -> None:
        """Append ``o``; ``nl`` is a newline and the indentation of the line ``o`` is on."""
        text = self.scalar(o)
        if text is not None:
            self.out.append(text)
        elif isinstance(o, (list, tuple)):
            self.array(o, nl)
        elif isinstance(o, dict):
            self.object(o, nl)
        else:
            self.value(self.default(o), nl)

    def array(self, o: list[Any] | tuple[Any, ...], nl: str) -> None:
        if not o:
            self.out.append("[]")
            return
        out = self.out
        inner = nl + self.step
        sep = "[" + inner
        for v in o:
            t = type(v)  # the usual types first, each in one piece
            if t is str:
                out.append(sep + _text(v))
            elif t is int:
                out.append(sep + int.__repr__(v))
            elif v is None:
                out.append(sep + "null")
            else:
                out.append(sep)
                self.value(v, inner)
            sep = "," + inner
        out.append(nl + "]")

    def object(self, o: dict[Any, Any], nl: str) -> None:
        if not o:
            self.out.append("{}")
            return
        out = self.out
        inner = nl + self.step
        sep = "{" + inner
        for k, v in o.items():
            head = sep + (_text(k) if type(k) is str else _key(k)) + ": "
            t = type(v)  # the usual types first, each in one piece with its key
            if t is str:
                out.append(head + _text(v))
            elif v is None:
                out.append(head + "null")
            elif t is int:
                out.append(head + int.__repr__(v))
            elif t is bool:
                out.append(head + ("true" if v else "false"))
            else:
                out.append(head)
                self.value(v, inner)
            sep = "," + inner
        out.append(nl + "}")
