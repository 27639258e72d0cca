"""CA problem documents become typed errors (RFC 8555 §6.7), so callers catch a class, never compare a string."""

import pytest
from acmevault.domain.errors import (
    CA_PROBLEMS,
    AccountDoesNotExist,
    AlreadyRevoked,
    CaError,
    Unauthorized,
    ca_problem,
)


@pytest.mark.parametrize(
    ("problem_type", "kind"),
    [("alreadyRevoked", AlreadyRevoked), ("accountDoesNotExist", AccountDoesNotExist), ("unauthorized", Unauthorized)],
)
def test_a_problem_callers_act_on_has_its_own_class(problem_type: str, kind: type[CaError]) -> None:
    error = ca_problem("revoking: the CA refused", problem_type)
    assert type(error) is kind and error.problem_type == problem_type and error.code == "ca_refused"


@pytest.mark.parametrize("problem_type", ["rejectedIdentifier", "caa", None])
def test_any_other_problem_is_a_plain_ca_error(problem_type: str | None) -> None:
    assert type(ca_problem("ordering: the CA refused", problem_type)) is CaError


def test_every_typed_problem_is_a_ca_error_named_for_its_type() -> None:
    for problem_type, kind in CA_PROBLEMS.items():
        assert issubclass(kind, CaError)
        assert kind.__name__.lower() == problem_type.lower()
