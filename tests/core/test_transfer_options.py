"""``ExportOptions``: one checked object that every front-end builds for an export."""

from __future__ import annotations

from pathlib import Path

import pytest

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.transfer import ExportOptions

URL = "http://127.0.0.1:9/x"


def test_values_as_front_ends_have_them_are_checked_and_normalised() -> None:
    options = ExportOptions.of(
        statuses=["pending", "failed", "pending"], operation_types=["api_call"],
        part_size=1_000_000,
    )  # fmt: skip
    assert options.statuses == (OperationStatus.PENDING, OperationStatus.FAILED)
    assert options.operation_types == (OperationType.API_CALL,)
    assert options.wanted == options.statuses
    assert ExportOptions().wanted == (OperationStatus.PENDING,)
    assert ExportOptions(everything=True).wanted == (
        OperationStatus.PENDING, OperationStatus.EXPORTED, OperationStatus.FAILED,
    )  # fmt: skip
    with pytest.raises(AttributeError):
        options.part_size = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("values", "sentence"),
    [
        ({"statuses": ["completed"]}, "Operations that are completed cannot be exported"),
        ({"operation_types": ["email"]}, "Unknown operation type 'email'"),
        ({"part_size": 999_999}, "A part must be at least 1000000 bytes."),
        ({"part_size": True}, "A part must be at least"),
        ({"recipients": ["age1nope"]}, "is not an age public key"),
        ({"recipients": "age1nope"}, "recipients must be a list."),
        ({"everything": "yes"}, "everything must be true or false."),
    ],
)
def test_a_bad_value_is_one_sentence_naming_it(values: dict[str, object], sentence: str) -> None:
    with pytest.raises(InvalidOperationError, match=sentence) as caught:
        ExportOptions.of(**values)  # type: ignore[arg-type]
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


async def test_the_runtime_takes_the_object_or_the_values_one_by_one(tmp_path: Path) -> None:
    runtime = Runtime(Settings.load(AppPaths.under(tmp_path / "home"), environ={}))
    try:
        await runtime.submit("api_call", {"url": URL, "method": "POST"})
        await runtime.submit("metric_log", {"run_id": "r", "metrics": {"loss": 1.0}})
        chosen = ExportOptions.of(operation_types=["metric_log"])
        result = await runtime.export_bundle(tmp_path / "one", chosen)
        assert result.operations == 1
        result = await runtime.export_bundle(tmp_path / "two", operation_types=["api_call"])
        assert result.operations == 1
        with pytest.raises(TypeError):
            await runtime.export_bundle(tmp_path / "three", chosen, everything=True)
        assert not (tmp_path / "three").exists()
    finally:
        await runtime.close()
