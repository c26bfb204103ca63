"""Approving sets: one approved set at a time, even when approvals race."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from registry_builders import BASE

from floodmark.registry import (
    RegistryError,
    approve_set,
    audit_log,
    effective_thresholds,
    list_sets,
    open_registry,
    publish_thresholds,
)
from floodmark.registry.models import Approval, ThresholdSet


def _publish(registry, n: int) -> list[int]:
    return [
        publish_thresholds(
            registry, BASE.with_columns(rl=BASE["rl"] * (2 + i)), source=f"s{i}", by="alice"
        ).set_id
        for i in range(n)
    ]


def _states(registry) -> dict[int, str]:
    return dict(list_sets(registry).select("id", "state").rows())


def test_approving_supersedes_the_approved_set(db_url):
    with open_registry(db_url) as registry:
        first, second = _publish(registry, 2)
        assert approve_set(registry, first, by="bob", reason="reviewed").superseded == ()
        result = approve_set(registry, second, by="carol")
        assert result.changed and result.superseded == (first,)
        assert _states(registry) == {first: "superseded", second: "approved"}
        assert (
            effective_thresholds(registry, "approved")["rl"].to_list() == (BASE["rl"] * 3).to_list()
        )
        log = audit_log(registry).filter(audit_log(registry)["action"] != "publish")
    assert log.select("who", "action", "what").rows() == [
        ("bob", "approve", f"set {first}"),
        ("carol", "supersede", f"set {first}"),
        ("carol", "approve", f"set {second}"),
    ]
    assert log["before"].to_list()[0] == '{"state":"draft"}'
    assert log["after"].to_list()[0] == '{"reason":"reviewed","state":"approved"}'


def test_approving_the_approved_set_writes_nothing_and_a_superseded_one_rolls_back(db_url):
    with open_registry(db_url) as registry:
        first, second = _publish(registry, 2)
        approve_set(registry, first, by="bob")
        rows = audit_log(registry).height
        assert not approve_set(registry, "approved", by="bob").changed
        assert audit_log(registry).height == rows
        approve_set(registry, second, by="bob")
        approve_set(registry, first, by="bob", reason="roll back")
        assert _states(registry) == {first: "approved", second: "superseded"}


def test_approving_a_missing_set_is_an_error(db_url):
    with open_registry(db_url) as registry:
        with pytest.raises(RegistryError, match="no set 4"):
            approve_set(registry, 4, by="bob")
        assert audit_log(registry).height == 0


def test_the_database_refuses_a_second_approved_set(db_url):
    with open_registry(db_url) as registry:
        first, second = _publish(registry, 2)
        approve_set(registry, first, by="bob")
        with pytest.raises(sa.exc.IntegrityError), registry.transaction() as session:
            session.get(ThresholdSet, second).state = "approved"


def test_racing_approvals_leave_exactly_one_approved_set(db_url):
    with open_registry(db_url) as registry:
        ids = _publish(registry, 4)
    rounds, errors = 3, []
    for _ in range(rounds):
        barrier = threading.Barrier(len(ids))

        def approve(set_id: int, barrier: threading.Barrier) -> None:
            # Each thread has its own engine: its own connections, as separate processes would.
            with open_registry(db_url) as own:
                barrier.wait()
                try:
                    approve_set(own, set_id, by=f"expert-{set_id}")
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)

        threads = [threading.Thread(target=approve, args=(i, barrier)) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    with open_registry(db_url) as registry:
        states = _states(registry)
        with registry.sessions() as session:
            approvals = session.scalars(sa.select(Approval).order_by(Approval.id)).all()
        log = audit_log(registry)
    assert sorted(states.values()).count("approved") == 1
    # Every approval happened, one after the other: the last one approved wins, and each
    # later one superseded exactly the one before it.
    assert states[approvals[-1].set_id] == "approved"
    supersedes = log.filter(log["action"] == "supersede")["what"].to_list()
    approves = log.filter(log["action"] == "approve")["what"].to_list()
    assert supersedes == approves[:-1]
