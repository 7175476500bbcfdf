"""What an export is asked for, checked once: the command line, the HTTP API and the window
each build an ``ExportOptions`` and hand it over as it is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from peft_studio_offline.core.enums import OperationStatus, OperationType, parse_operation_type
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.transfer._parts import MIN_PART_SIZE

EXPORTABLE = (OperationStatus.PENDING, OperationStatus.EXPORTED, OperationStatus.FAILED)
DEFAULT_STATUSES = (OperationStatus.PENDING,)


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Which operations go and how the bundle is written; every value is checked as the
    object is made (``InvalidOperationError``, one sentence, naming the value).

    ``everything``: also those exported before (awaiting a receipt) and failed ones.
    ``statuses`` and ``operation_types`` narrow the choice (None: no filter). ``part_size``
    cuts the archive into parts of at most that many bytes. ``recipients``: public keys
    (age or SSH) to encrypt to. ``without_secrets``: operations holding secrets stay here
    instead of refusing an unencrypted bundle.
    """

    everything: bool = False
    statuses: tuple[OperationStatus, ...] | None = None
    operation_types: tuple[OperationType, ...] | None = None
    part_size: int | None = None
    recipients: tuple[str, ...] = ()
    without_secrets: bool = False

    def __post_init__(self) -> None:
        for name in ("everything", "without_secrets"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidOperationError(f"{name} must be true or false.")
        if self.statuses is not None:
            _set(self, "statuses", _statuses(self.statuses))
        if self.operation_types is not None:
            types = _sequence(self.operation_types, "operation_types")
            _set(self, "operation_types", tuple(parse_operation_type(t) for t in types))
        size = self.part_size
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or size < MIN_PART_SIZE
        ):
            raise InvalidOperationError(f"A part must be at least {MIN_PART_SIZE} bytes.")
        recipients = _sequence(self.recipients, "recipients")
        if not all(isinstance(r, str) and r.strip() for r in recipients):
            raise InvalidOperationError("Each recipient must be a public key, as text.")
        _set(self, "recipients", tuple(recipients))
        if recipients:
            from peft_studio_offline.core.transfer._age import parse_recipients

            parse_recipients(recipients)  # a key not understood is named now

    @classmethod
    def of(
        cls,
        *,
        everything: bool = False,
        statuses: Iterable[OperationStatus | str] | None = None,
        operation_types: Iterable[OperationType | str] | None = None,
        part_size: int | None = None,
        recipients: Iterable[str] = (),
        without_secrets: bool = False,
    ) -> ExportOptions:
        """The options from values as a front-end has them (lists, texts), checked."""
        return cls(
            everything=everything,
            statuses=None if statuses is None else _statuses(statuses),
            operation_types=None
            if operation_types is None
            else tuple(parse_operation_type(t) for t in _sequence(operation_types, "types")),
            part_size=part_size,
            recipients=tuple(_sequence(recipients, "recipients")),
            without_secrets=without_secrets,
        )

    @property
    def wanted(self) -> tuple[OperationStatus, ...]:
        """The statuses the export takes."""
        if self.statuses is not None:
            return self.statuses
        return EXPORTABLE if self.everything else DEFAULT_STATUSES


def _set(options: ExportOptions, name: str, value: Any) -> None:
    object.__setattr__(options, name, value)  # normalised once, while it is being made


def _sequence(value: object, name: str) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidOperationError(f"{name} must be a list.")
    return list(value)


def _statuses(value: object) -> tuple[OperationStatus, ...]:
    chosen: list[OperationStatus] = []
    for item in _sequence(value, "statuses"):
        try:
            status = OperationStatus(item)
        except ValueError:
            status = None
        if status not in EXPORTABLE:
            raise InvalidOperationError(
                f"Operations that are {item} cannot be exported; choose among: "
                + ", ".join(s.value for s in EXPORTABLE)
                + "."
            )
        assert status is not None
        chosen.append(status)
    return tuple(dict.fromkeys(chosen))
