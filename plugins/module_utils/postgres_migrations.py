# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""Versioned SQL migrations with Flyway-grade guarantees.

Files named ``NNN_description.sql`` in one directory are applied in numeric
order. A session advisory lock is taken before the history table is created or
read, so concurrent runs apply each file exactly once. Every file and its
history row commit in one transaction; a file whose header says
``-- devinfra:no-transaction`` runs statement by statement in autocommit.

The pure half (discovery, checksums, SQL splitting, plan computation) needs no
database and is unit tested; ``apply_migrations`` and ``plan_migrations`` do
the database work through ``postgres.connect``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import struct
import time

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg


DEFAULT_HISTORY_TABLE = "devinfra_schema_migrations"
APPLICATION_NAME = pg.APPLICATION_NAME_PREFIX + " postgres_migrate"
FILENAME_RE = re.compile(r"^(?P<version>[0-9]+)_(?P<description>[A-Za-z0-9][A-Za-z0-9_.-]*)\.sql$")
NO_TRANSACTION_RE = re.compile(r"^--\s*devinfra:\s*no-transaction\s*$", re.IGNORECASE)
HISTORY_TABLE_RE = re.compile(r"^(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$")
NO_TRANSACTION_HEADER = "-- devinfra:no-transaction"


class Migration(object):
    """One file on disk, parsed and checksummed."""

    def __init__(self, version, description, script, checksum, text, no_transaction=False, path=None):
        self.version = version
        self.description = description
        self.script = script
        self.checksum = checksum
        self.text = text
        self.no_transaction = no_transaction
        self.path = path

    def summary(self):
        return dict(version=self.version, script=self.script, checksum=self.checksum,
                    transaction=not self.no_transaction)

    def __repr__(self):
        return "Migration(%r)" % (self.script,)


class Applied(object):
    """One row of the history table."""

    def __init__(self, version, script, checksum, success=True):
        self.version = int(version)
        self.script = script
        self.checksum = checksum
        self.success = success


# --------------------------------------------------------------------------- pure functions

def parse_filename(name):
    """``"003_add_index.sql"`` -> (3, "add index"); None for names that are not migrations."""
    match = FILENAME_RE.match(name)
    if not match:
        return None
    return int(match.group("version")), match.group("description").replace("_", " ")


def normalise(raw):
    """Decode bytes as UTF-8, drop a BOM, turn CRLF and CR into LF."""
    if isinstance(raw, bytes):
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        text = raw.decode("utf-8")
    else:
        text = raw[1:] if raw.startswith(u"\ufeff") else raw
    return text.replace("\r\n", "\n").replace("\r", "\n")


def checksum(text):
    """SHA-256 (hex) of the normalised content, so a checkout's line endings never count as drift."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def has_no_transaction_header(text):
    """True if the leading comment block holds ``-- devinfra:no-transaction``."""
    for line in normalise(text).split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            return False
        if NO_TRANSACTION_RE.match(stripped):
            return True
    return False


_DOLLAR_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD_START = re.compile(r"[A-Za-z_\u0080-\uffff]")
_WORD_RE = re.compile(r"[A-Za-z0-9_$\u0080-\uffff]+")
_MAX_WORDS = 24


class Statement(object):
    def __init__(self, line, text, words):
        self.line = line
        self.text = text
        self.words = words

    def __repr__(self):
        return "Statement(line=%d, %r)" % (self.line, self.text[:40])


def split_statements(text):
    """Split SQL into top-level statements, knowing comments, quotes and bodies.

    Handles -- and nested /* */ comments, '' and E'' strings, "identifiers",
    $tag$ bodies, parentheses (CREATE RULE) and SQL-standard ``BEGIN ATOMIC``
    function bodies. Each Statement keeps its first line (1-based) and its
    first keywords in upper case, which is all the checks below need.
    """
    stmts = []
    n = len(text)
    i = 0
    line = 1
    start = None
    start_line = None
    words = []
    paren = 0
    atomic = 0
    routine = False

    def finish(end):
        stmts.append(Statement(start_line, text[start:end].strip(), words))

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            line += text.count("\n", i, j)
            i = j
            continue
        if c == ";" and paren == 0 and atomic == 0:
            if start is not None:
                finish(i)
            start = start_line = None
            words = []
            routine = False
            i += 1
            continue
        if start is None:
            start, start_line = i, line
        if c == "'":
            j = _skip_string(text, i, escapes=False)
        elif c == '"':
            j = i + 1
            while j < n:
                if text[j] == '"':
                    if text.startswith('""', j):
                        j += 2
                        continue
                    j += 1
                    break
                j += 1
        elif c == "$":
            match = _DOLLAR_RE.match(text, i)
            if match:
                end = text.find(match.group(0), match.end())
                j = n if end < 0 else end + len(match.group(0))
            else:
                j = i + 1
        elif _WORD_START.match(c):
            match = _WORD_RE.match(text, i)
            word = match.group(0).upper()
            j = match.end()
            if word in ("E", "U&E") and j < n and text[j] == "'":
                j = _skip_string(text, j, escapes=True)
            elif word in ("U", "B", "X", "N") and j < n and text[j] == "'":
                j = _skip_string(text, j, escapes=False)
            elif word == "U" and text.startswith("&'", j):
                j = _skip_string(text, j + 1, escapes=False)
            else:
                if len(words) < _MAX_WORDS:
                    words.append(word)
                if len(words) <= 4 and word in ("FUNCTION", "PROCEDURE") and words[0] == "CREATE":
                    routine = True
                if routine:
                    if word == "ATOMIC" and _previous_word_is(text, i, "BEGIN"):
                        atomic += 1
                    elif atomic and word == "CASE":
                        atomic += 1
                    elif atomic and word == "END":
                        atomic -= 1
        elif c == "(":
            paren += 1
            j = i + 1
        elif c == ")":
            paren = max(0, paren - 1)
            j = i + 1
        else:
            j = i + 1
        line += text.count("\n", i, j)
        i = j
    if start is not None:
        finish(n)
    return stmts


def _skip_string(text, i, escapes):
    """Index just after the string literal whose opening quote is at ``i``."""
    n = len(text)
    j = i + 1
    while j < n:
        ch = text[j]
        if escapes and ch == "\\":
            j += 2
            continue
        if ch == "'":
            if text.startswith("''", j):
                j += 2
                continue
            return j + 1
        j += 1
    return n


def _previous_word_is(text, i, word):
    before = text[:i].rstrip()
    return before[-len(word):].upper() == word and (
        len(before) == len(word) or not before[-len(word) - 1].isalnum())


def transaction_control(stmt):
    """The transaction-control keyword a statement starts with, or None."""
    w = stmt.words
    if not w:
        return None
    if w[0] in ("BEGIN", "COMMIT", "END", "ABORT"):
        return w[0]
    if w[0] == "ROLLBACK" and (len(w) < 2 or w[1] != "TO"):
        return "ROLLBACK"
    if w[0] in ("START", "PREPARE") and len(w) > 1 and w[1] == "TRANSACTION":
        return w[0] + " TRANSACTION"
    return None


def needs_no_transaction(stmt):
    """A description of a statement PostgreSQL refuses inside a transaction block, or None."""
    w = stmt.words
    if not w:
        return None
    head = w[:8]
    if w[0] in ("CREATE", "DROP", "REINDEX") and "CONCURRENTLY" in head:
        return " ".join(head[:head.index("CONCURRENTLY") + 1])
    if w[0] == "ALTER" and "DETACH" in w and "CONCURRENTLY" in w:
        return "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
    if w[0] in ("CREATE", "DROP") and len(w) > 1 and w[1] in ("DATABASE", "TABLESPACE"):
        return "%s %s" % (w[0], w[1])
    if w[0] == "VACUUM" or (w[0] == "ALTER" and len(w) > 1 and w[1] == "SYSTEM"):
        return " ".join(w[:2])
    return None


def check_migration_text(script, text, no_transaction):
    """Refuse a file PostgreSQL would run wrongly; returns its statements."""
    statements = split_statements(text)
    for stmt in statements:
        keyword = transaction_control(stmt)
        if keyword:
            raise DevinfraError(
                "Migration %s line %d has its own %s: files must not control transactions. Nothing was applied."
                % (script, stmt.line, keyword),
                hint="Remove the BEGIN/COMMIT; every file already runs in one transaction with its history "
                     "row. For statements that cannot run in a transaction, start the file with `%s`."
                     % NO_TRANSACTION_HEADER)
        if not no_transaction:
            what = needs_no_transaction(stmt)
            if what:
                raise DevinfraError(
                    "Migration %s line %d runs %s, which PostgreSQL refuses inside a transaction. Nothing was "
                    "applied." % (script, stmt.line, what),
                    hint="Put it in its own file whose first line is `%s` (that file then runs statement by "
                         "statement in autocommit and is not rolled back on failure)." % NO_TRANSACTION_HEADER)
    return statements


def discover_migrations(path):
    """Read, parse and checksum every migration file under ``path`` (not recursive)."""
    if not path:
        raise DevinfraError("No migrations directory given.")
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        raise DevinfraError("The migrations directory %s does not exist on this host. Nothing was applied."
                            % path, hint="Point migrations_dir at a directory of NNN_description.sql files on "
                                         "the target host (copy it there first for a remote target).")
    if not os.path.isdir(path):
        raise DevinfraError("The migrations path %s is not a directory. Nothing was applied." % path)
    found = {}
    migrations = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not name.endswith(".sql") or not os.path.isfile(full):
            continue
        parsed = parse_filename(name)
        if parsed is None:
            raise DevinfraError(
                "The file %s in %s is not named NNN_description.sql, so its place in the order is unknown. "
                "Nothing was applied." % (name, path),
                hint="Rename it (e.g. 010_add_index.sql) or move it out of the migrations directory.")
        version, description = parsed
        if version in found:
            raise DevinfraError("Two migration files have version %d: %s and %s. Nothing was applied."
                                % (version, found[version], name), hint="Renumber one of them.")
        found[version] = name
        with open(full, "rb") as handle:
            raw = handle.read()
        try:
            text = normalise(raw)
        except UnicodeDecodeError as exc:
            raise DevinfraError("Migration %s is not valid UTF-8 (%s). Nothing was applied." % (name, exc))
        migrations.append(Migration(version, description, name, checksum(text), text,
                                    no_transaction=has_no_transaction_header(text), path=full))
    migrations.sort(key=lambda m: m.version)
    return migrations


def compute_plan(migrations, applied, target_version=None, allow_out_of_order=False):
    """Pending migrations, in order, or a DevinfraError before anything is applied.

    Refuses: an applied file whose checksum changed, an applied file that is
    gone, a new file older than the newest applied one (unless allowed).
    """
    by_version = dict((m.version, m) for m in migrations)
    applied_by_version = dict((a.version, a) for a in applied)
    for row in sorted(applied, key=lambda a: a.version):
        current = by_version.get(row.version)
        if current is None:
            raise DevinfraError(
                "Migration %s (version %d) was applied to this database but is no longer in the migrations "
                "directory. Nothing was applied." % (row.script, row.version),
                hint="Restore the file: applied migrations must stay. To undo a change, add a new migration.")
        if current.checksum != row.checksum:
            raise DevinfraError(
                "Migration %s (version %d) changed after it was applied: checksum %s in the history, %s on "
                "disk. Nothing was applied." % (current.script, row.version, row.checksum, current.checksum),
                hint="Revert the edit and put the change in a new migration file.")
    if target_version is not None:
        if target_version < 0:
            raise DevinfraError("target_version must be zero or positive, got %d." % target_version)
        if target_version not in by_version and target_version != 0:
            raise DevinfraError("target_version %d matches no migration file; versions on disk: %s."
                                % (target_version, ", ".join(str(v) for v in sorted(by_version)) or "none"))
    highest = max(applied_by_version) if applied_by_version else None
    pending = [m for m in migrations if m.version not in applied_by_version]
    if highest is not None and not allow_out_of_order:
        late = [m for m in pending if m.version < highest]
        if late:
            raise DevinfraError(
                "Migration %s (version %s) is new but older than the newest applied migration (version %s). "
                "Nothing was applied." % (late[0].script, late[0].version, highest),
                hint="Renumber it above %s, or set allow_out_of_order: true if applying it late is safe."
                     % highest)
    if target_version is not None:
        pending = [m for m in pending if m.version <= target_version]
    return pending


def advisory_lock_key(history_table):
    """A stable signed 64-bit key per history table (advisory locks are per database already)."""
    digest = hashlib.sha256(("kubernaut.devinfra:migrations:" + history_table).encode("utf-8")).digest()
    return struct.unpack(">q", digest[:8])[0]


def error_line(stmt, position):
    """Line in the file of a 1-based character ``position`` inside ``stmt`` (None -> statement start)."""
    if not position:
        return stmt.line
    try:
        offset = int(position) - 1
    except ValueError:
        return stmt.line
    return stmt.line + stmt.text.count("\n", 0, max(0, offset))


def validate_options(history_table, lock_timeout, target_version):
    if not HISTORY_TABLE_RE.match(history_table or ""):
        raise DevinfraError("Invalid history_table %r: use [schema.]name in lower case letters, digits and "
                            "underscores." % (history_table,))
    if lock_timeout is None or lock_timeout < 0:
        raise DevinfraError("lock_timeout must be zero or positive (seconds to wait for another run's lock), "
                            "got %r. Nothing was applied." % (lock_timeout,))
    if target_version is not None and target_version < 0:
        raise DevinfraError("target_version must be zero or positive, got %r. Nothing was applied."
                            % (target_version,))


# --------------------------------------------------------------------------- database work

def _table_ident(history_table, schema):
    parts = history_table.split(".", 1)
    if len(parts) == 1:
        parts = [schema, parts[0]]
    return pg.sql.Identifier(*parts)


HISTORY_DDL = """CREATE TABLE IF NOT EXISTS {table} (
    version bigint PRIMARY KEY,
    description text NOT NULL,
    script text NOT NULL,
    checksum char(64) NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT current_user,
    execution_ms integer NOT NULL,
    success boolean NOT NULL
)"""


def _read_history(cur, table):
    """History rows, or None when the table does not exist (one query either way)."""
    try:
        cur.execute(pg.sql.SQL("SELECT version, script, checksum, success FROM {} ORDER BY version").format(table))
    except pg.psycopg2.errors.UndefinedTable:
        return None
    return [Applied(v, s, c.strip(), ok) for v, s, c, ok in cur.fetchall()]


def _lock_holders(cur, key):
    cur.execute(
        "SELECT a.pid, a.application_name, a.usename, a.client_addr::text, a.backend_start::text "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
        ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF))
    return cur.fetchall()


def _acquire_lock(cur, key, lock_timeout, history_table):
    """Take the session advisory lock, waiting at most ``lock_timeout`` seconds.

    Returns the current schema (fetched in the same round trip).
    """
    start = time.monotonic()
    if lock_timeout == 0:
        cur.execute("SELECT pg_try_advisory_lock(%s), current_schema()", (key,))
        got, schema = cur.fetchone()
    else:
        cur.execute("SELECT set_config('lock_timeout', %s, false)", ("%dms" % max(1, int(lock_timeout * 1000)),))
        try:
            cur.execute("SELECT pg_advisory_lock(%s), current_schema()", (key,))
            _void, schema = cur.fetchone()
            got = True
        except pg.psycopg2.errors.LockNotAvailable:
            got = False
        cur.execute("SELECT set_config('lock_timeout', '0', false)")
    if not got:
        holders = _lock_holders(cur, key)
        who = "; ".join("pid %s (application_name %r, user %s, client %s, connected since %s)" % row
                        for row in holders) or "a session that has just released it"
        raise DevinfraError(
            "Another migration run holds the lock for %s: waited %.1f s (lock_timeout %s s). Holder: %s. "
            "Nothing was applied." % (history_table, time.monotonic() - start, lock_timeout, who),
            hint="Wait for that run to finish and re-run, raise lock_timeout, or end a stuck session with "
                 "SELECT pg_terminate_backend(<pid>).",
            lock_holders=[dict(pid=r[0], application_name=r[1], user=r[2]) for r in holders])
    return schema


def _run_file(conn, cur, migration, statements, table):
    """Apply one migration and record it. Returns execution_ms. Raises DevinfraError naming the line."""
    started = time.monotonic()
    stmt = None
    try:
        if not migration.no_transaction:
            cur.execute("BEGIN")
        for stmt in statements:
            cur.execute(stmt.text)
        stmt = None
        elapsed_ms = int(round((time.monotonic() - started) * 1000))
        cur.execute(pg.sql.SQL("INSERT INTO {} (version, description, script, checksum, execution_ms, success) "
                               "VALUES (%s, %s, %s, %s, %s, true)").format(table),
                    (migration.version, migration.description, migration.script, migration.checksum, elapsed_ms))
        if not migration.no_transaction:
            cur.execute("COMMIT")
        return elapsed_ms
    except pg.psycopg2.Error as exc:
        if not migration.no_transaction and not conn.closed:
            try:
                cur.execute("ROLLBACK")
            except pg.psycopg2.Error:
                pass
        raise _migration_failure(migration, stmt, exc)


def _migration_failure(migration, stmt, exc):
    diag = getattr(exc, "diag", None)
    code = getattr(exc, "pgcode", None) or "unknown"
    message = (getattr(diag, "message_primary", None) if diag else None) or pg.first_line(exc)
    if stmt is None:
        where = "while recording it in the history table"
    else:
        where = "at line %d" % error_line(stmt, getattr(diag, "statement_position", None) if diag else None)
    if migration.no_transaction:
        consequence = ("It ran outside a transaction, so statements before the failing one took effect and were "
                       "not rolled back; no history row was written. Make the file safe to re-run (IF NOT "
                       "EXISTS) or undo them by hand, then re-run.")
    else:
        consequence = ("Its transaction was rolled back, so nothing of it remains and no later file was "
                       "attempted. Fix the file and re-run; it will be applied once.")
    hint = consequence
    if code == "25001":
        hint = ("That statement cannot run inside a transaction: move it to a file that starts with `%s`. "
                % NO_TRANSACTION_HEADER) + consequence
    detail = getattr(diag, "message_detail", None) if diag else None
    return DevinfraError("Migration %s failed %s (SQLSTATE %s): %s%s"
                         % (migration.script, where, code, message, (" Detail: %s" % detail) if detail else ""),
                         hint=hint, failed_script=migration.script, sqlstate=code)


def _load(migrations_dir, history_table, lock_timeout, target_version, params):
    pg.validate_connection_params(params)
    validate_options(history_table, lock_timeout, target_version)
    migrations = discover_migrations(migrations_dir)
    statements = dict((m.version, check_migration_text(m.script, m.text, m.no_transaction)) for m in migrations)
    return migrations, statements


def plan_migrations(params, migrations_dir, history_table=DEFAULT_HISTORY_TABLE, target_version=None,
                    allow_out_of_order=False, lock_timeout=60):
    """Check mode: what would be applied. Reads the history if it exists; creates and locks nothing."""
    migrations, _statements = _load(migrations_dir, history_table, lock_timeout, target_version, params)
    conn = pg.connect(params, APPLICATION_NAME, what="read the migration history")
    try:
        cur = conn.cursor()
        cur.execute("SELECT current_schema()")
        table = _table_ident(history_table, cur.fetchone()[0])
        applied = _read_history(cur, table) or []
    finally:
        pg.close_quietly(conn)
    pending = compute_plan(migrations, applied, target_version, allow_out_of_order)
    before = _highest(applied)
    after = max([m.version for m in pending]) if pending else before
    return _result(before, after, applied_now=[], pending=[m.summary() for m in pending],
                   executed=[m.script for m in pending])


def apply_migrations(params, migrations_dir, history_table=DEFAULT_HISTORY_TABLE, target_version=None,
                     allow_out_of_order=False, lock_timeout=60):
    """Apply pending migrations under the advisory lock, one transaction per file."""
    migrations, statements = _load(migrations_dir, history_table, lock_timeout, target_version, params)
    key = advisory_lock_key(history_table)
    conn = pg.connect(params, APPLICATION_NAME, what="apply migrations")
    applied_now = []
    try:
        cur = conn.cursor()
        schema = _acquire_lock(cur, key, lock_timeout, history_table)
        table = _table_ident(history_table, schema)
        applied = _read_history(cur, table)
        if applied is None:
            cur.execute(pg.sql.SQL(HISTORY_DDL).format(table=table))
            applied = []
        pending = compute_plan(migrations, applied, target_version, allow_out_of_order)
        for migration in pending:
            elapsed_ms = _run_file(conn, cur, migration, statements[migration.version], table)
            entry = migration.summary()
            entry["execution_ms"] = elapsed_ms
            applied_now.append(entry)
        try:
            cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
        except pg.psycopg2.Error:
            pass  # closing the session below releases it anyway
        done = applied + [Applied(e["version"], e["script"], e["checksum"]) for e in applied_now]
        remaining = compute_plan(migrations, done, None, True)
        return _result(_highest(applied), _highest(done), applied_now=applied_now,
                       pending=[m.summary() for m in remaining], executed=[e["script"] for e in applied_now])
    finally:
        pg.close_quietly(conn)


def require_extensions(params, names):
    """The installed extensions ({name: version}); DevinfraError naming any of ``names`` that is missing."""
    conn = pg.connect(params, APPLICATION_NAME, what="check the extensions the migrations install")
    try:
        installed = pg.installed_extensions(conn.cursor())
    finally:
        pg.close_quietly(conn)
    for name in names:
        if name not in installed:
            raise DevinfraError(
                "The migrations ran, but %s: %s" % (pg.describe_target(params), pg.missing_extension_message(name, True)),
                hint="Create it with a migration (`CREATE EXTENSION IF NOT EXISTS %s;`, as the collection's "
                     "migrations/001 does)." % name, extensions=installed)
    return installed


def _highest(rows):
    return max(r.version for r in rows) if rows else None


def _result(before, after, applied_now, pending, executed):
    """One result shape for check and real runs; ``executed`` lists scripts, never SQL bodies."""
    changed = bool(executed)
    return dict(
        changed=changed,
        applied=applied_now,
        pending=pending,
        current_version=after,
        executed=executed,
        diff=dict(before=dict(current_version=before),
                  after=dict(current_version=after, applied_scripts=executed)) if changed else None,
    )
