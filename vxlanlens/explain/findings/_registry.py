"""The registry of finding ids: which detector emits which ids, with which severities.

Every detector is declared with :func:`detector`, naming the ids it may emit and their
severity. ``FINDING_IDS``, the catalogue test against ``docs/explanations.md`` and the JSON
Schema's enum of ids (:func:`finding_id_schema`) are all derived from these declarations, and a
detector that emits an undeclared id or severity raises instead of shipping an undocumented id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...proto import Severity
from ..context import Context
from ..model import Finding

__all__ = ["Detector", "FindingSpec", "UndeclaredFinding", "detector"]


class UndeclaredFinding(RuntimeError):
    """A detector emitted an id or a severity its declaration does not list (a bug)."""


@dataclass(frozen=True)
class FindingSpec:
    """One finding id: its usual severity, the other severities it may take, and a summary."""

    id: str
    severity: Severity
    summary: str
    also: tuple[Severity, ...] = ()
    """Other severities the id may carry (e.g. ``unknown-mac`` is info when the captures name the MACs)."""

    @property
    def severities(self) -> tuple[Severity, ...]:
        """Every severity this id may carry, the usual one first."""
        return (self.severity, *self.also)


@dataclass(frozen=True)
class Detector:
    """A detector function with the finding ids it declares; calling it runs the function and
    checks that every finding it returns is declared."""

    func: Callable[[Context], list[Finding]]
    specs: tuple[FindingSpec, ...]

    @property
    def name(self) -> str:
        """The detector function's name."""
        return self.func.__name__

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids this detector may emit."""
        return tuple(s.id for s in self.specs)

    def __call__(self, ctx: Context) -> list[Finding]:
        """The findings of the detector, each checked against the declaration."""
        found = self.func(ctx)
        allowed = {s.id: {str(v) for v in s.severities} for s in self.specs}
        for f in found:
            if f.id not in allowed or str(f.severity) not in allowed[f.id]:
                raise UndeclaredFinding(
                    f"detector {self.name} emitted {f.id!r} with severity {f.severity!r}; "
                    f"it declares {sorted(allowed.items())}"
                )
        return found


def detector(*specs: FindingSpec) -> Callable[[Callable[[Context], list[Finding]]], Detector]:
    """Decorator that declares the finding ids (and severities) a detector function emits."""

    def wrap(func: Callable[[Context], list[Finding]]) -> Detector:
        return Detector(func, specs)

    return wrap
