"""postgres_migrate against a real PostgreSQL: semantics of issue 3, through the module."""

import os
import threading

import pytest

from conftest import REPO, run_module

from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres_migrations as m

pytestmark = pytest.mark.integration

REFERENCE = os.path.join(REPO, "migrations")
HISTORY = "devinfra_schema_migrations"


def write_dir(path, files):
    path.mkdir(exist_ok=True)
    for name, body in files.items():
        target = path / name
        if body is None:
            target.unlink()
        else:
            target.write_text(body)
    return str(path)


def history(server, db):
    return server.query("SELECT version, script, success FROM %s ORDER BY version" % HISTORY, database=db)


def table_exists(server, db, name):
    return server.query("SELECT to_regclass(%s) IS NOT NULL", (name,), database=db)[0][0]


def advisory_locks(server):
    return server.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", database="postgres")[0][0]


def migrate(server, db, path, check=False, diff=False, **extra):
    return run_module("postgres_migrate", server.args(db, migrations_dir=path, **extra), check=check, diff=diff)


def test_reference_schema_check_then_apply_then_noop(postgres_server, postgres_db):
    s, db = postgres_server, postgres_db
    files = sorted(f for f in os.listdir(REFERENCE) if f.endswith(".sql"))

    res = migrate(s, db, REFERENCE, check=True, diff=True)
    assert not res.get("failed"), res
    assert res["changed"] is True
    assert [p["script"] for p in res["pending"]] == files
    assert all(len(p["checksum"]) == 64 for p in res["pending"])
    assert res["applied"] == []
    assert res["diff"]["after"]["applied_scripts"] == files
    assert "CREATE" not in repr(res["diff"])  # scripts, never SQL bodies
    assert not table_exists(s, db, HISTORY)
    assert not table_exists(s, db, "action_history")
    assert advisory_locks(s) == 0

    res = migrate(s, db, REFERENCE, diff=True)
    assert res["changed"] is True, res
    assert [a["script"] for a in res["applied"]] == files
    assert all(isinstance(a["execution_ms"], int) for a in res["applied"])
    assert res["pending"] == []
    assert res["current_version"] == max(int(f.split("_")[0]) for f in files)
    assert [(row[1], row[2]) for row in history(s, db)] == [(f, True) for f in files]
    assert s.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'", database=db)
    assert advisory_locks(s) == 0

    res = migrate(s, db, REFERENCE)
    assert res["changed"] is False, res
    assert res["applied"] == [] and res["executed"] == []
    assert len(history(s, db)) == len(files)


def test_history_columns(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    path = write_dir(tmp_path / "m", {"001_a.sql": "SELECT 1;\r\n"})
    assert m.apply_migrations(s.args(db, connect_timeout=5), path)["changed"]
    row = s.query("SELECT version, description, script, checksum, applied_at IS NOT NULL, applied_by, "
                  "execution_ms >= 0, success FROM %s" % HISTORY, database=db)[0]
    assert row == (1, "a", "001_a.sql", m.checksum("SELECT 1;\n"), True, s.user, True, True)


def test_four_concurrent_runs_apply_each_file_once(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    files = {"001_log.sql": "CREATE TABLE ran (script text PRIMARY KEY);\n"
                            "INSERT INTO ran VALUES ('001');\nSELECT pg_sleep(2);\n"}
    for v in range(2, 13):
        # CREATE TABLE fails if a file ever runs twice; the PRIMARY KEY catches a double INSERT.
        files["%03d_step.sql" % v] = ("CREATE TABLE step_%d (id int);\nINSERT INTO ran VALUES ('%03d');\n"
                                      "SELECT pg_sleep(0.05);\n" % (v, v))
    path = write_dir(tmp_path / "m", files)
    results = [None] * 4

    def run(i):
        results[i] = migrate(s, db, path)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not r.get("failed") for r in results), results
    applied = sorted(a["script"] for r in results for a in r["applied"])
    assert applied == sorted(files), "each file applied by exactly one run"
    assert sum(1 for r in results if r["changed"]) >= 1
    assert sorted(x[0] for x in s.query("SELECT script FROM ran", database=db)) == \
        ["%03d" % v for v in range(1, 13)]
    assert len(history(s, db)) == len(files)
    assert advisory_locks(s) == 0


def test_failing_file_leaves_no_trace_and_stops(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    good = "CREATE TABLE one (id int);\n"
    bad = ("-- statement 3 fails\nCREATE TABLE two_a (id int);\nCREATE TABLE two_b (id int);\n"
           "INSERT INTO no_such_table VALUES (1);\n")
    path = write_dir(tmp_path / "m", {"001_one.sql": good, "002_two.sql": bad,
                                      "003_three.sql": "CREATE TABLE three (id int);\n"})
    res = migrate(s, db, path)
    assert res.get("failed"), res
    assert "002_two.sql" in res["msg"] and "line 4" in res["msg"] and "SQLSTATE 42P01" in res["msg"], res["msg"]
    assert "rolled back" in res["msg"]
    assert res["failed_script"] == "002_two.sql" and res["sqlstate"] == "42P01"
    assert not table_exists(s, db, "two_a") and not table_exists(s, db, "two_b")
    assert not table_exists(s, db, "three"), "nothing after the failing file runs"
    assert [r[1] for r in history(s, db)] == ["001_one.sql"]

    write_dir(tmp_path / "m", {"002_two.sql": bad.replace("no_such_table", "two_a")})
    res = migrate(s, db, path)
    assert [a["script"] for a in res["applied"]] == ["002_two.sql", "003_three.sql"], res
    assert migrate(s, db, path)["changed"] is False


def test_drift_missing_and_out_of_order_are_refused_before_applying(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    base = {"010_a.sql": "CREATE TABLE a (id int);\n", "020_b.sql": "CREATE TABLE b (id int);\n"}
    path = write_dir(tmp_path / "m", base)
    assert migrate(s, db, path)["changed"]

    old = m.checksum(base["010_a.sql"])
    write_dir(tmp_path / "m", {"010_a.sql": "CREATE TABLE a (id bigint);\n", "030_c.sql": "CREATE TABLE c ();\n"})
    res = migrate(s, db, path)
    assert res.get("failed") and "010_a.sql" in res["msg"] and old in res["msg"] and \
        m.checksum("CREATE TABLE a (id bigint);\n") in res["msg"], res
    assert not table_exists(s, db, "c"), "refused before applying anything"

    # A line-ending-only change is not drift.
    write_dir(tmp_path / "m", {"010_a.sql": base["010_a.sql"].replace("\n", "\r\n"), "030_c.sql": None})
    assert migrate(s, db, path)["changed"] is False

    write_dir(tmp_path / "m", {"020_b.sql": None, "030_c.sql": "CREATE TABLE c ();\n"})
    res = migrate(s, db, path)
    assert res.get("failed") and "020_b.sql" in res["msg"] and "no longer in the migrations directory" in res["msg"]
    assert not table_exists(s, db, "c")

    write_dir(tmp_path / "m", {"020_b.sql": base["020_b.sql"], "030_c.sql": None,
                               "015_late.sql": "CREATE TABLE late ();\n"})
    res = migrate(s, db, path, check=True)
    assert res.get("failed") and "015_late.sql" in res["msg"] and "allow_out_of_order" in res["msg"], res
    res = migrate(s, db, path)
    assert res.get("failed") and not table_exists(s, db, "late")
    res = migrate(s, db, path, allow_out_of_order=True)
    assert [a["script"] for a in res["applied"]] == ["015_late.sql"], res


def test_no_transaction_opt_in(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    concurrently = "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n"
    path = write_dir(tmp_path / "m", {"001_t.sql": "CREATE TABLE t (id int);\n", "002_idx.sql": concurrently})
    res = migrate(s, db, path)
    assert res.get("failed") and "002_idx.sql line 1" in res["msg"] and "devinfra:no-transaction" in res["msg"], res
    assert not table_exists(s, db, HISTORY), "refused before anything ran"

    write_dir(tmp_path / "m", {"002_idx.sql": "-- devinfra:no-transaction\n" + concurrently})
    res = migrate(s, db, path)
    assert [(a["script"], a["transaction"]) for a in res["applied"]] == [("001_t.sql", True),
                                                                         ("002_idx.sql", False)], res
    assert s.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_idx'::regclass", database=db)[0][0]
    assert migrate(s, db, path)["changed"] is False


def test_own_begin_commit_is_refused(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    path = write_dir(tmp_path / "m", {"001_tx.sql": "BEGIN;\nCREATE TABLE x (id int);\nCOMMIT;\n"})
    res = migrate(s, db, path)
    assert res.get("failed") and "001_tx.sql line 1 has its own BEGIN" in res["msg"], res
    assert not table_exists(s, db, "x")


def test_target_version(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    path = write_dir(tmp_path / "m", dict(("%03d_v.sql" % v, "CREATE TABLE v%d ();\n" % v) for v in (1, 2, 3)))
    res = migrate(s, db, path, check=True, target_version=2)
    assert [p["version"] for p in res["pending"]] == [1, 2] and res["current_version"] == 2
    res = migrate(s, db, path, target_version=2)
    assert [a["version"] for a in res["applied"]] == [1, 2]
    assert [p["version"] for p in res["pending"]] == [3]
    assert res["current_version"] == 2
    assert not table_exists(s, db, "v3")
    assert migrate(s, db, path, target_version=2)["changed"] is False
    res = migrate(s, db, path, target_version=7)
    assert res.get("failed") and "matches no migration file" in res["msg"]
    res = migrate(s, db, path)
    assert [a["version"] for a in res["applied"]] == [3]


def test_check_mode_after_partial_apply_lists_only_new_files(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    path = write_dir(tmp_path / "m", {"001_a.sql": "CREATE TABLE a ();\n"})
    migrate(s, db, path)
    write_dir(tmp_path / "m", {"002_b.sql": "CREATE TABLE b ();\n"})
    res = migrate(s, db, path, check=True, diff=True)
    assert res["changed"] and [p["script"] for p in res["pending"]] == ["002_b.sql"]
    assert res["diff"]["before"]["current_version"] == 1 and res["diff"]["after"]["current_version"] == 2
    assert not table_exists(s, db, "b") and len(history(s, db)) == 1


def test_lock_timeout_names_the_holder(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    path = write_dir(tmp_path / "m", {"001_a.sql": "CREATE TABLE a ();\n"})
    holder = s.connect(db, application_name="other-ci-job")
    try:
        cur = holder.cursor()
        cur.execute("SELECT pg_advisory_lock(%s), pg_backend_pid()", (m.advisory_lock_key(HISTORY),))
        pid = cur.fetchone()[1]
        res = migrate(s, db, path, lock_timeout=1)
        assert res.get("failed"), res
        assert "pid %d" % pid in res["msg"] and "other-ci-job" in res["msg"], res["msg"]
        assert res["lock_holders"][0]["application_name"] == "other-ci-job"
        res = migrate(s, db, path, lock_timeout=0)
        assert res.get("failed") and "other-ci-job" in res["msg"]
        assert not table_exists(s, db, HISTORY), "the history table is created only under the lock"
    finally:
        holder.close()
    assert migrate(s, db, path)["changed"] is True


@pytest.mark.parametrize("extra, match", [
    (dict(lock_timeout=-1), "lock_timeout must be zero or positive"),
    (dict(port=0), "port must be between 1 and 65535"),
    (dict(migrations_dir="/nonexistent/migrations"), "does not exist"),
    (dict(history_table='x"; DROP TABLE y; --'), "Invalid history_table"),
])
def test_hostile_input_fails_clearly_and_creates_nothing(postgres_server, postgres_db, tmp_path, extra, match):
    s, db = postgres_server, postgres_db
    path = write_dir(tmp_path / "m", {"001_a.sql": "CREATE TABLE a ();\n"})
    args = s.args(db, migrations_dir=path)
    args.update(extra)
    res = run_module("postgres_migrate", args)
    assert res.get("failed") and match in res["msg"], res
    assert not table_exists(s, db, HISTORY) and not table_exists(s, db, "a")


def test_hostile_database_name_is_quoted(postgres_server, tmp_path):
    s = postgres_server
    db = s.create_database('we"ird; DROP DATABASE postgres; --')
    path = write_dir(tmp_path / "m", {"001_a.sql": "CREATE TABLE a ();\n"})
    res = migrate(s, db, path)
    assert res["changed"], res
    assert table_exists(s, db, "a") and s.database_exists("postgres")


def test_required_extension_is_checked_after_applying(postgres_server, postgres_db, tmp_path):
    s, db = postgres_server, postgres_db
    path = write_dir(tmp_path / "m", {"001_t.sql": "CREATE TABLE t (id int);\n"})
    res = migrate(s, db, path, check=True, require_extensions=["vector"])
    assert res["changed"] is True and "extensions" not in res  # pending: the file may be what creates it
    res = migrate(s, db, path, require_extensions=["vector"])
    assert res.get("failed") and "The migrations ran" in res["msg"] and "pgvector" in res["msg"], res
    assert table_exists(s, db, "t")  # what ran stays applied; the failure names what is missing
    write_dir(tmp_path / "m", {"002_vector.sql": "CREATE EXTENSION IF NOT EXISTS vector;\n"})
    res = migrate(s, db, path, require_extensions=["vector"])
    assert res["changed"] is True and "vector" in res["extensions"], res
    res = migrate(s, db, path, check=True, require_extensions=["vector"])
    assert res["changed"] is False and "vector" in res["extensions"]


def test_wait_timeout_waits_for_a_server_that_is_still_starting(postgres_container, tmp_path):
    # Started without waiting: the module's first attempts meet initdb or a closed port.
    c = postgres_container(password="wait_pw", wait=False)
    res = run_module("postgres_migrate", {
        "host": c.host, "port": c.port, "user": c.user, "password": c.password, "database": c.database,
        "migrations_dir": REFERENCE, "require_extensions": ["vector"], "wait_timeout": 60})
    assert res.get("failed") is not True, res.get("msg")
    assert res["ready"]["attempts"] >= 1 and res["ready"]["server_version"].startswith("17")
    assert res["applied"] and res["extensions"]["vector"]


def test_without_wait_timeout_a_closed_port_fails_at_once(tmp_path):
    from conftest import free_port
    res = run_module("postgres_migrate", {"host": "127.0.0.1", "port": free_port(), "password": "x",
                                          "migrations_dir": REFERENCE})
    assert res["failed"] is True and "ready" not in res
    assert res["elapsed_ms"] < 5000
    res = run_module("postgres_migrate", {"host": "127.0.0.1", "port": free_port(), "password": "x",
                                          "migrations_dir": REFERENCE, "wait_timeout": 1})
    assert res["failed"] is True
    assert "1" in res["msg"] and "127.0.0.1" in res["msg"], res["msg"]
