"""The load report: what a load read, kept and skipped (by reason), stored for every load."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.store.models import LoadReport

MAX_LISTED = 20


@dataclass
class LoadTally:
    """Counts gathered while loading; stored as one LoadReport row at the end."""

    rows_read: int = 0
    rows_kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def count_note(self, key: str, count: int = 1) -> None:
        self.notes[key] = self.notes.get(key, 0) + count

    def list_note(self, key: str, item: str) -> None:
        """Append to a listed note, keeping only the first MAX_LISTED items."""
        items = self.notes.setdefault(key, [])
        if len(items) < MAX_LISTED:
            items.append(item)

    def store(self, session: Session, kind: str, target: str, file_name: str) -> LoadReport:
        report = LoadReport(
            kind=kind,
            target=target,
            file_name=file_name,
            rows_read=self.rows_read,
            rows_kept=self.rows_kept,
            skipped=dict(sorted(self.skipped.items())),
            notes=self.notes,
        )
        session.add(report)
        session.flush()
        return report


def nothing_usable(
    files: str,
    kind: str,
    unit: str,
    tally: LoadTally,
    first: str | None = None,
    accepted: str | None = None,
) -> InputError:
    """The error for a load that found nothing to store: kind is what it looked for ("annotation
    row"), unit what it counts as read ("data lines"). It says how much was read, why each was
    skipped and the first problem, so the person can tell an empty file from a broken one."""
    if tally.rows_read == 0:
        return InputError(files, 0, f"holds no {kind}", accepted)
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(tally.skipped.items()))
    problem = f"holds no usable {kind}: {tally.rows_read} {unit} read, skipped: {skipped}"
    if first:
        problem += f"; first: {first}"
    return InputError(files, 0, problem)
