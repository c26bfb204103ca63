"""API keys: stored hashed, shown once, found by secret, revoked, audited; the keys command."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from floodmark.cli import app
from floodmark.registry import audit_log, open_registry
from floodmark.registry.keys import active_key, create_key, find_key, list_keys, revoke_key

runner = CliRunner()


def test_a_key_is_stored_hashed_and_found_by_its_secret(db_url):
    with open_registry(db_url) as registry:
        key, secret = create_key(registry, name="alice", role="reviewer", by="admin")
        with registry.engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT digest, prefix FROM api_keys")).one()
        assert secret not in stored.digest and len(stored.digest) == 64
        assert secret.startswith(stored.prefix)
        assert find_key(registry, secret) == key
        assert find_key(registry, secret + "x") is None
        assert find_key(registry, "") is None
        assert key.can("viewer") and key.can("reviewer") and not key.can("admin")


def test_a_revoked_key_is_not_found_and_revoking_is_audited(db_url):
    with open_registry(db_url) as registry:
        key, secret = create_key(registry, name="bob", role="viewer", by="admin")
        assert revoke_key(registry, key.id, by="carol") is True
        assert revoke_key(registry, key.id, by="carol") is False
        assert find_key(registry, secret) is None and active_key(registry, key.id) is None
        log = audit_log(registry)
        assert log.select("who", "action", "what").rows() == [
            ("admin", "key-create", f"key {key.id}"),
            ("carol", "key-revoke", f"key {key.id}"),
        ]


def test_keys_command_creates_lists_and_revokes(db_url):
    created = runner.invoke(
        app, ["keys", "create", "--db", db_url, "--name", "ops", "--role", "admin"]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()  # the key alone, for scripts: the note is on stderr
    assert "\n" not in secret and "shown only now" in created.stderr
    with open_registry(db_url) as registry:
        assert find_key(registry, secret).role == "admin"
    listed = runner.invoke(app, ["keys", "list", "--db", db_url])
    assert "ops" in listed.output and secret not in listed.output
    assert runner.invoke(app, ["keys", "revoke", "--db", db_url, "1"]).exit_code == 0
    with open_registry(db_url) as registry:
        assert list_keys(registry)["revoked"].is_not_null().all()
    bad = runner.invoke(app, ["keys", "create", "--db", db_url, "--name", "x", "--role", "root"])
    assert bad.exit_code == 2 and "viewer, reviewer, admin" in bad.output
