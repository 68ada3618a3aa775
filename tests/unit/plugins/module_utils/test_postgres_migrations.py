"""Pure functions of postgres_migrations: no database."""

import os

import pytest

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres_migrations as m


def mig(version, text="SELECT 1;", name=None, no_tx=False):
    name = name or "%03d_m%d.sql" % (version, version)
    return m.Migration(version, "m%d" % version, name, m.checksum(text), text, no_transaction=no_tx)


# ---------------------------------------------------------------- file names and ordering

@pytest.mark.parametrize("name, expected", [
    ("001_create_extension_vector.sql", (1, "create extension vector")),
    ("999_add_nov_2025_partition.sql", (999, "add nov 2025 partition")),
    ("0010_x.sql", (10, "x")),
    ("2_a-b.c.sql", (2, "a-b.c")),
])
def test_parse_filename_accepts_versioned_names(name, expected):
    assert m.parse_filename(name) == expected


@pytest.mark.parametrize("name", ["create.sql", "_1.sql", "1.sql", "1_.sql", "v1_x.sql", "001_x.SQL",
                                  "001_x.sql.bak", "001 x.sql", "001_x;drop.sql"])
def test_parse_filename_rejects_other_names(name):
    assert m.parse_filename(name) is None


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return p


def test_discover_orders_numerically_not_lexically(tmp_path):
    for name in ("10_ten.sql", "9_nine.sql", "100_hundred.sql", "README.md"):
        write(tmp_path, name, "SELECT 1;")
    assert [x.version for x in m.discover_migrations(str(tmp_path))] == [9, 10, 100]


def test_discover_refuses_duplicate_versions(tmp_path):
    write(tmp_path, "001_a.sql", "SELECT 1;")
    write(tmp_path, "1_b.sql", "SELECT 1;")
    with pytest.raises(DevinfraError, match="Two migration files have version 1"):
        m.discover_migrations(str(tmp_path))


def test_discover_refuses_unnumbered_sql_file(tmp_path):
    write(tmp_path, "schema.sql", "SELECT 1;")
    with pytest.raises(DevinfraError, match="not named NNN_description.sql"):
        m.discover_migrations(str(tmp_path))


def test_discover_missing_and_non_directory(tmp_path):
    with pytest.raises(DevinfraError, match="does not exist"):
        m.discover_migrations(str(tmp_path / "nope"))
    f = write(tmp_path, "001_a.sql", "x")
    with pytest.raises(DevinfraError, match="not a directory"):
        m.discover_migrations(str(f))


def test_discover_refuses_invalid_utf8(tmp_path):
    write(tmp_path, "001_a.sql", b"SELECT '\xff';")
    with pytest.raises(DevinfraError, match="not valid UTF-8"):
        m.discover_migrations(str(tmp_path))


# ---------------------------------------------------------------- checksums

def test_checksum_ignores_crlf_cr_and_bom():
    lf = "CREATE TABLE a (id int);\nSELECT 1;\n"
    assert m.checksum(lf) == m.checksum(lf.replace("\n", "\r\n"))
    assert m.checksum(lf) == m.checksum(lf.replace("\n", "\r"))
    assert m.checksum(lf) == m.checksum(b"\xef\xbb\xbf" + lf.replace("\n", "\r\n").encode())
    assert m.checksum(lf) == m.checksum(u"\ufeff" + lf)


def test_checksum_sees_real_changes():
    assert m.checksum("SELECT 1;\n") != m.checksum("SELECT 2;\n")
    assert m.checksum("SELECT 1;\n") != m.checksum("SELECT 1; \n")
    assert len(m.checksum("x")) == 64


def test_discovered_checksum_is_line_ending_independent(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write(a, "001_x.sql", "SELECT 1;\nSELECT 2;\n")
    write(b, "001_x.sql", b"\xef\xbb\xbfSELECT 1;\r\nSELECT 2;\r\n")
    assert m.discover_migrations(str(a))[0].checksum == m.discover_migrations(str(b))[0].checksum


# ---------------------------------------------------------------- header

@pytest.mark.parametrize("text", [
    "-- devinfra:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
    "\n\n-- why: big table\n--  DEVINFRA: no-transaction  \r\nVACUUM t;",
    "\ufeff-- devinfra:no-transaction\nSELECT 1;",
])
def test_no_transaction_header_detected(text):
    assert m.has_no_transaction_header(text)


@pytest.mark.parametrize("text", [
    "SELECT 1;\n-- devinfra:no-transaction\n",
    "-- mentions -- devinfra:no-transaction inside a sentence\nSELECT 1;",
    "/* devinfra:no-transaction */ SELECT 1;",
    "",
])
def test_no_transaction_header_only_in_leading_comments(text):
    assert not m.has_no_transaction_header(text)


# ---------------------------------------------------------------- splitting and BEGIN/COMMIT detection

def test_split_tracks_lines_and_ignores_semicolons_in_quotes_and_bodies():
    text = (
        "-- header\n"
        "CREATE TABLE a (s text DEFAULT ';');\n"           # line 2
        "\n"
        "CREATE FUNCTION f() RETURNS int AS $body$\n"      # line 4
        "BEGIN\n  RETURN 1; -- ;\nEND;\n$body$ LANGUAGE plpgsql;\n"
        "/* a ; comment\n spanning */ SELECT \"we;ird\", E'it\\'s;' ; \n"  # line 9
        "DO $$ BEGIN PERFORM 1; END $$;\n"                 # line 11
        "SELECT 1"                                         # line 12, no trailing semicolon
    )
    stmts = m.split_statements(text)
    assert [s.line for s in stmts] == [2, 4, 10, 11, 12]
    assert stmts[0].text == "CREATE TABLE a (s text DEFAULT ';')"
    assert stmts[2].words[0] == "SELECT"
    assert stmts[3].words[:1] == ["DO"]


def test_split_keeps_sql_standard_function_bodies_whole():
    text = ("CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql\n"
            "BEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT 3;")
    stmts = m.split_statements(text)
    assert len(stmts) == 2
    assert stmts[0].text.endswith("END")
    assert stmts[1].line == 6


def test_split_keeps_rule_actions_in_parentheses():
    text = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO l VALUES (1); INSERT INTO l VALUES (2));\nSELECT 1;"
    assert len(m.split_statements(text)) == 2


def test_split_of_comment_only_file_is_empty():
    assert m.split_statements("-- nothing\n/* here */\n;\n") == []


@pytest.mark.parametrize("sql, keyword", [
    ("BEGIN;", "BEGIN"), ("begin transaction isolation level serializable;", "BEGIN"),
    ("START TRANSACTION;", "START TRANSACTION"), ("COMMIT;", "COMMIT"), ("END;", "END"),
    ("ROLLBACK;", "ROLLBACK"), ("ABORT;", "ABORT"), ("PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION"),
])
def test_transaction_control_detected(sql, keyword):
    assert m.transaction_control(m.split_statements(sql)[0]) == keyword


@pytest.mark.parametrize("sql", [
    "DO $$ BEGIN RAISE NOTICE 'x'; END $$;",
    "CREATE FUNCTION f() RETURNS void AS $$ BEGIN COMMIT; END $$ LANGUAGE plpgsql;",
    "ROLLBACK TO SAVEPOINT s;",
    "SELECT 'BEGIN';",
    "-- BEGIN\nSELECT 1;",
    "CREATE TABLE begin_log (id int);",
])
def test_transaction_control_not_fooled(sql):
    assert m.transaction_control(m.split_statements(sql)[0]) is None


def test_check_migration_text_refuses_own_begin_commit_with_line():
    with pytest.raises(DevinfraError, match=r"004_x.sql line 2 has its own BEGIN"):
        m.check_migration_text("004_x.sql", "SELECT 1;\nBEGIN;\nSELECT 2;\nCOMMIT;", False)
    with pytest.raises(DevinfraError, match="has its own COMMIT"):
        m.check_migration_text("004_x.sql", "-- devinfra:no-transaction\nSELECT 1;\nCOMMIT;", True)


@pytest.mark.parametrize("sql", [
    "CREATE INDEX CONCURRENTLY i ON t (a);", "create unique index concurrently i on t (a);",
    "DROP INDEX CONCURRENTLY i;", "REINDEX INDEX CONCURRENTLY i;", "VACUUM t;", "CREATE DATABASE d;",
    "ALTER SYSTEM SET work_mem = '8MB';", "ALTER TABLE p DETACH PARTITION c CONCURRENTLY;",
])
def test_non_transactional_statements_need_the_header(sql):
    with pytest.raises(DevinfraError, match="refuses inside a transaction"):
        m.check_migration_text("007_x.sql", sql, False)
    assert len(m.check_migration_text("007_x.sql", sql, True)) == 1


def test_error_line_from_statement_position():
    stmt = m.split_statements("\n\nSELECT 1,\n  2,\n  nope;")[0]
    assert stmt.line == 3
    assert m.error_line(stmt, None) == 3
    assert m.error_line(stmt, str(stmt.text.index("nope") + 1)) == 5


# ---------------------------------------------------------------- plan computation

def applied(*migs):
    return [m.Applied(x.version, x.script, x.checksum) for x in migs]


def test_plan_pending_in_order():
    a, b, c = mig(1), mig(2), mig(3)
    assert m.compute_plan([a, b, c], applied(a)) == [b, c]
    assert m.compute_plan([a, b, c], []) == [a, b, c]
    assert m.compute_plan([a, b, c], applied(a, b, c)) == []


def test_plan_target_version():
    a, b, c = mig(1), mig(2), mig(3)
    assert m.compute_plan([a, b, c], [], target_version=2) == [a, b]
    assert m.compute_plan([a, b, c], applied(a, b, c), target_version=1) == []
    with pytest.raises(DevinfraError, match="matches no migration file"):
        m.compute_plan([a, b, c], [], target_version=7)


def test_plan_refuses_drift_naming_both_checksums():
    a = mig(1, "SELECT 1;")
    edited = mig(1, "SELECT 11;")
    with pytest.raises(DevinfraError) as err:
        m.compute_plan([edited, mig(2)], applied(a))
    assert a.checksum in err.value.msg and edited.checksum in err.value.msg
    assert "001_m1.sql" in err.value.msg


def test_plan_refuses_missing_applied_file():
    a, b = mig(1), mig(2)
    with pytest.raises(DevinfraError, match="no longer in the migrations directory"):
        m.compute_plan([b], applied(a, b))


def test_plan_refuses_out_of_order_unless_allowed():
    a, b, c = mig(1), mig(2), mig(3)
    with pytest.raises(DevinfraError, match="older than the newest applied migration"):
        m.compute_plan([a, b, c], applied(a, c))
    assert m.compute_plan([a, b, c], applied(a, c), allow_out_of_order=True) == [b]


def test_plan_checks_drift_before_anything_else_even_with_target():
    a, b = mig(1), mig(2)
    with pytest.raises(DevinfraError, match="changed after it was applied"):
        m.compute_plan([mig(1, "SELECT 42;"), b], applied(a), target_version=1)


def test_validate_options():
    m.validate_options("devinfra_schema_migrations", 0, None)
    m.validate_options("audit.schema_history", 1.5, 3)
    for table in ('x"; DROP TABLE y; --', "Upper", "a.b.c", ""):
        with pytest.raises(DevinfraError, match="Invalid history_table"):
            m.validate_options(table, 1, None)
    with pytest.raises(DevinfraError, match="lock_timeout must be zero or positive"):
        m.validate_options("t", -1, None)
    with pytest.raises(DevinfraError, match="target_version"):
        m.validate_options("t", 1, -1)


def test_advisory_lock_key_is_stable_signed_64_bit():
    k = m.advisory_lock_key("devinfra_schema_migrations")
    assert k == m.advisory_lock_key("devinfra_schema_migrations")
    assert k != m.advisory_lock_key("other")
    assert -2 ** 63 <= k < 2 ** 63


def test_reference_migrations_parse_and_need_no_header():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "..", "..", "migrations")
    found = m.discover_migrations(path)
    assert [x.version for x in found][:1] == [1]
    for x in found:
        assert not x.no_transaction
        assert m.check_migration_text(x.script, x.text, False)
