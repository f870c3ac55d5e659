"""Every error the domain defines derives from `PatchingError`; refusals of input from
`BadInput`, which carries the command line's exit status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import patching
from patching.errors import BadInput, PatchingError
from patching.planfile import PlanFileError, plan_from_json

# Errors that are faults of the code, not of what it was given.
FAULTS = {"SchedulingFault"}


def _domain_errors() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.iter_modules(patching.__path__):
        module = importlib.import_module(f"patching.{module_info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[name] = value
    return sorted(found.values(), key=lambda error: error.__name__)


ERRORS = _domain_errors()


def test_the_domain_defines_its_errors():
    names = {error.__name__ for error in ERRORS}
    assert {"FleetError", "CalendarError", "ResourceIdError", "TimeFormatError"} <= names


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.__name__)
def test_every_domain_error_derives_from_the_base(error):
    assert issubclass(error, PatchingError)
    if error.__name__ not in FAULTS and error is not PatchingError:
        assert issubclass(error, BadInput)
        assert error.exit_code == 2


@pytest.mark.parametrize(
    "document",
    [
        {"version": 1},
        {"version": 1, "cycle": "2026-12", "release": {"kind": "monthly"}},
        {"version": 1, "cycle": "2026-12", "release": "hotpatch"},
        {"version": 2},
    ],
)
def test_a_document_that_is_not_a_plan_is_a_plan_file_error(document):
    with pytest.raises(PlanFileError, match="plan"):
        plan_from_json(document)
