"""postgres_suite_databases against a real PostgreSQL: clones, re-clones, resets, hostile names."""

import os
import shutil
import time

import psycopg2
import pytest

from conftest import REPO, run_module

from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres_migrations as m

pytestmark = pytest.mark.integration

REFERENCE = os.path.join(REPO, "migrations")


@pytest.fixture
def template(postgres_server):
    """A migrated application database (reference schema) to clone from."""
    db = postgres_server.create_database()
    m.apply_migrations(postgres_server.args(db, connect_timeout=5), REFERENCE)
    return db


def suites(server, db, names, check=False, **extra):
    return run_module("postgres_suite_databases", server.args(db, suites=names, **extra), check=check)


def test_check_then_create_then_noop(postgres_server, template):
    s, db = postgres_server, template
    res = suites(s, db, ["contextapi", "datastorage"], check=True)
    assert res["changed"] is True, res
    assert res["executed"][0] == 'CREATE DATABASE "%s_contextapi" TEMPLATE "%s"' % (db, db)
    assert not s.database_exists(db + "_contextapi")

    res = suites(s, db, ["contextapi", "datastorage"])
    assert res["changed"] is True, res
    for name in ("contextapi", "datastorage"):
        info = res["suites"][name]
        assert info["database"] == "%s_%s" % (db, name) and info["action"] == "create"
        assert info["dsn"] == "postgresql://%s:********@127.0.0.1:%d/%s_%s" % (s.user, s.port, db, name)
        assert s.password not in info["dsn"]
        # The clone carries the schema, the extension and the migration history.
        assert s.query("SELECT count(*) FROM devinfra_schema_migrations", database=info["database"])[0][0] == \
            len(os.listdir(REFERENCE))
        assert s.query("SELECT to_regclass('action_history_embedding_hnsw_idx') IS NOT NULL",
                       database=info["database"])[0][0]

    res = suites(s, db, ["contextapi", "datastorage"])
    assert res["changed"] is False, res
    assert res["executed"] == []
    assert {v["action"] for v in res["suites"].values()} == {"unchanged"}


def test_file_copy_strategy_clones_the_schema(postgres_server, template):
    # What postgres_pgvector_clone_strategy picks with PGDATA on a tmpfs.
    s, db = postgres_server, template
    res = suites(s, db, ["fc"], check=True, strategy="file_copy")
    assert res["executed"][0] == 'CREATE DATABASE "%s_fc" TEMPLATE "%s" STRATEGY FILE_COPY' % (db, db), res
    assert not s.database_exists(db + "_fc")
    res = suites(s, db, ["fc"], strategy="file_copy")
    assert res["suites"]["fc"]["action"] == "create", res
    assert s.query("SELECT count(*) FROM devinfra_schema_migrations", database=db + "_fc")[0][0] == \
        len(os.listdir(REFERENCE))
    res = suites(s, db, ["fc"], reset=True, strategy="wal_log")
    assert res["executed"][-2] == 'CREATE DATABASE "%s_fc" TEMPLATE "%s" STRATEGY WAL_LOG' % (db, db), res


def test_newer_template_migrations_reclone(postgres_server, template, tmp_path):
    s, db = postgres_server, template
    suites(s, db, ["contextapi"])
    clone = db + "_contextapi"
    s.query("INSERT INTO action_history (namespace, resource_kind, resource_name, action_type) "
            "VALUES ('n', 'Pod', 'p', 'restart')", database=clone)

    newer = tmp_path / "m"
    shutil.copytree(REFERENCE, str(newer))
    (newer / "900_newer.sql").write_text("CREATE TABLE newer (id int);\n")
    m.apply_migrations(s.args(db, connect_timeout=5), str(newer))

    res = suites(s, db, ["contextapi"], check=True)
    assert res["changed"] and res["suites"]["contextapi"]["action"] == "reclone", res
    assert s.query("SELECT count(*) FROM action_history", database=clone)[0][0] == 1

    res = suites(s, db, ["contextapi"])
    assert res["suites"]["contextapi"]["action"] == "reclone", res
    assert s.query("SELECT to_regclass('newer') IS NOT NULL", database=clone)[0][0]
    assert s.query("SELECT count(*) FROM action_history", database=clone)[0][0] == 0
    assert suites(s, db, ["contextapi"])["changed"] is False


def test_reset_reclones_and_ends_connections(postgres_server, template):
    s, db = postgres_server, template
    suites(s, db, ["datastorage"])
    clone = db + "_datastorage"
    s.query("CREATE TABLE scratch (id int)", database=clone)
    busy = s.connect(clone, application_name="a-running-test")
    try:
        res = suites(s, db, ["datastorage"], reset=True)
        assert res["changed"] and res["suites"]["datastorage"]["action"] == "reset", res
        assert any("WITH (FORCE)" in stmt for stmt in res["executed"])
        assert not s.query("SELECT to_regclass('scratch') IS NOT NULL", database=clone)[0][0]
        with pytest.raises(psycopg2.Error):
            busy.cursor().execute("SELECT 1")
    finally:
        busy.close()


@pytest.mark.parametrize("bad", ['a"b', "x; DROP DATABASE postgres; --", "Upper", "", "x" * 41, "9lives"])
def test_hostile_suite_names_refused_before_anything(postgres_server, template, bad):
    s, db = postgres_server, template
    res = suites(s, db, ["fine", bad])
    assert res.get("failed") and "Invalid suite name" in res["msg"], res
    assert not s.database_exists(db + "_fine"), "nothing created"


def test_hostile_database_names(postgres_server, tmp_path):
    s = postgres_server
    db = s.create_database("app'; DROP \"x")
    m.apply_migrations(s.args(db, connect_timeout=5), REFERENCE)
    res = suites(s, db, ["contextapi"])
    assert res["changed"], res
    assert s.database_exists(db + "_contextapi") and s.database_exists("postgres")

    res = suites(s, 'missing"; DROP DATABASE postgres; --', ["contextapi"])
    assert res.get("failed"), res
    assert s.database_exists("postgres")

    res = suites(s, "postgres", ["contextapi"], port=0)
    assert res.get("failed") and "port must be between" in res["msg"]


def test_foreign_database_with_suite_name_is_left_alone(postgres_server, template):
    s, db = postgres_server, template
    s.create_database(db + "_theirs")
    s.query("CREATE TABLE precious (id int)", database=db + "_theirs")
    res = suites(s, db, ["theirs"], reset=True)
    assert res.get("failed") and "not created by postgres_suite_databases" in res["msg"], res
    assert s.query("SELECT to_regclass('precious') IS NOT NULL", database=db + "_theirs")[0][0]


@pytest.mark.slow
def test_busy_template_names_the_session(postgres_server, template):
    s, db = postgres_server, template
    other = s.connect(db, application_name="someone-elses-psql")
    try:
        started = time.monotonic()
        with pytest.raises(pg.DevinfraError) as err:
            pg.ensure_suite_databases(s.args(db, connect_timeout=5), ["busy"])
        assert "someone-elses-psql" in str(err.value), str(err.value)
        assert time.monotonic() - started < 30
    finally:
        other.close()
    assert not s.database_exists(db + "_busy")
