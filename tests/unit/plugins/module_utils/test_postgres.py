"""Pure functions of module_utils/postgres: no database."""

import pytest

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils.wait import NotReady, WaitTimeout
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg
from clock_double import FakeClock


def params(**kw):
    p = dict(host="127.0.0.1", port=5432, user="slm_user", password="s3cret", database="action_history",
             connect_timeout=5)
    p.update(kw)
    return p


def test_argument_spec_marks_password_no_log():
    spec = pg.postgres_argument_spec()
    assert spec["password"]["no_log"] is True
    assert set(spec) == {"host", "port", "user", "password", "database", "connect_timeout"}


@pytest.mark.parametrize("bad, match", [
    (dict(port=0), "port must be between 1 and 65535"),
    (dict(port=70000), "port must be between"),
    (dict(connect_timeout=0), "connect_timeout"),
    (dict(host=""), "host must not be empty"),
    (dict(database="a\x00b"), "NUL"),
])
def test_validate_connection_params(bad, match):
    with pytest.raises(DevinfraError, match=match):
        pg.validate_connection_params(params(**bad))


def test_redacted_dsn_hides_password_and_quotes():
    assert pg.redacted_dsn(params()) == "postgresql://slm_user:********@127.0.0.1:5432/action_history"
    assert "s3cret" not in pg.redacted_dsn(params(), "x")
    assert pg.dsn(params(user="a@b"), "d b", password="p/w:") == "postgresql://a%40b:p%2Fw%3A@127.0.0.1:5432/d%20b"
    assert pg.redacted_dsn(params(password=None)) == "postgresql://slm_user@127.0.0.1:5432/action_history"
    assert pg.dsn(params(host="::1")).startswith("postgresql://slm_user@[::1]:5432/")


@pytest.mark.parametrize("text", [
    'connection to server at "127.0.0.1", port 5432 failed: Connection refused',
    'connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is starting up',
    "FATAL:  the database system is shutting down",
    "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
    "something nobody has seen before",
])
def test_transient_connect_errors(text):
    assert pg.classify_connect_error(Exception(text)) == "transient"


@pytest.mark.parametrize("text, hint", [
    ('FATAL:  password authentication failed for user "slm_user"', "fresh volume"),
    ('FATAL:  database "nope" does not exist', "does not exist"),
])
def test_permanent_connect_errors_get_a_hint(text, hint):
    assert hint in pg.classify_connect_error(Exception(text))


def test_missing_vector_names_images_and_extension_name():
    msg = pg.missing_extension_message("vector", False)
    assert "docker.io/pgvector/pgvector:pg17" in msg and "`vector`" in msg
    assert "localhost/kubernaut-devinfra/postgres-pgvector:17" in msg


@pytest.mark.parametrize("name", ["contextapi", "datastorage", "s", "a_1", "x" * 40])
def test_valid_suite_names(name):
    pg.validate_suite_names([name])


@pytest.mark.parametrize("name", ['a"b', "a;drop database x", "Upper", "1abc", "_x", "", "x" * 41, "a-b",
                                  "a b", "é"])
def test_hostile_suite_names_refused(name):
    with pytest.raises(DevinfraError, match="Invalid suite name"):
        pg.validate_suite_names([name])


def test_duplicate_suite_names_refused():
    with pytest.raises(DevinfraError, match="listed twice"):
        pg.validate_suite_names(["a", "a"])


def test_suite_database_name_length_limit():
    assert pg.suite_database_name("action_history", "contextapi") == "action_history_contextapi"
    with pytest.raises(DevinfraError, match="63-byte limit"):
        pg.suite_database_name("d" * 30, "s" * 33)


MARK = pg.SUITE_MARKER + "app"


def test_plan_suite_databases_actions():
    fp = ((1, "a"), (2, "b"))
    existing = {
        "app_same": dict(marker=MARK, fingerprint=fp),
        "app_stale": dict(marker=MARK, fingerprint=((1, "a"),)),
    }
    plan = pg.plan_suite_databases("app", ["same", "stale", "fresh"], existing, fp, reset=False)
    assert [(p["suite"], p["action"]) for p in plan] == [("same", "unchanged"), ("stale", "reclone"),
                                                         ("fresh", "create")]
    plan = pg.plan_suite_databases("app", ["same", "fresh"], existing, fp, reset=True)
    assert [p["action"] for p in plan] == ["reset", "create"]


def test_plan_suite_databases_refuses_foreign_database():
    with pytest.raises(DevinfraError, match="not created by postgres_suite_databases"):
        pg.plan_suite_databases("app", ["x"], {"app_x": dict(marker=None, fingerprint=None)}, None, False)


def test_wait_for_ready_rejects_bad_port_before_probing():
    with pytest.raises(DevinfraError, match="port must be between"):
        pg.wait_for_ready(params(port=0))


def test_wait_for_ready_times_out_with_last_error(monkeypatch):
    clock = FakeClock()

    def never_ready(*_args, **_kwargs):
        raise NotReady("Connection refused")

    monkeypatch.setattr(pg, "probe_ready", never_ready)
    with pytest.raises(WaitTimeout) as err:
        pg.wait_for_ready(params(), timeout=2, clock=clock, sleep=clock.sleep)
    assert "Connection refused" in str(err.value)
    assert err.value.details["elapsed_ms"] >= 2000


def test_unknown_clone_strategy_refused_before_connecting():
    # Port 1 would refuse the connection: the error must come from the check, not from connecting.
    params = dict(host="127.0.0.1", port=1, user="u", password="p", database="app", connect_timeout=1)
    with pytest.raises(DevinfraError, match="Unknown clone strategy 'copy'"):
        pg.ensure_suite_databases(params, ["contextapi"], strategy="copy")
