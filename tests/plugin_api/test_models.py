"""Models validate on decode and name the field that is wrong."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest
from telltales import Account, Contact, Score, Signal
from telltales.models import score_problem, signal_problem


def test_an_account_decodes_with_defaults() -> None:
    account = msgspec.convert(
        {"account_id": "a", "name": "A", "renewal_date": "2027-01-01"}, Account
    )
    assert account.renewal_date == date(2027, 1, 1)
    assert account.lifecycle_stage == "adoption"
    assert account.core_features == []


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ({"account_id": "", "name": "A"}, "$.account_id"),
        ({"account_id": "a", "name": "A", "lifecycle_stage": "churning"}, "$.lifecycle_stage"),
        ({"account_id": "a", "name": "A", "arr": -1}, "$.arr"),
        ({"account_id": "a"}, "missing required field `name`"),
    ],
)
def test_invalid_accounts_name_the_field(record: dict[str, object], path: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(record, Account)
    assert str(caught.value).endswith(path if path.startswith("missing") else f"at `{path}`")


def test_contact_roles_are_checked() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"roles\[0\]"):
        msgspec.convert({"contact_id": "c", "account_id": "a", "roles": ["boss"]}, Contact)


def test_signal_and_score_checks() -> None:
    ok = Signal(account_id="a", key="s.k", value=1, dimension="roi", evidence="2 of 2 outcomes")
    assert signal_problem(ok) is None
    assert signal_problem(msgspec.structs.replace(ok, value=True)) is not None
    score = Score(account_id="a", scorer="s", value=101, grade="green", label="Healthy", coverage=1)
    assert score_problem(score) == "score for 'a': value must be within 0..100, got 101"
    assert score_problem(msgspec.structs.replace(score, value=None, coverage=0)) is None
