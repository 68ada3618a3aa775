# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""PostgreSQL backend: connections, the readiness predicate and per-suite databases.

Modules never open connections themselves; they call into this file (and
``postgres_migrations`` for schema migrations, which uses ``connect`` from here).
Every connection carries an ``application_name`` starting with
``kubernaut.devinfra`` so that lock holders and leftover sessions can be named.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re
import time

try:
    from urllib.parse import quote as _urlquote
except ImportError:  # pragma: no cover - Python 2 is not supported, keep sanity import happy
    from urllib import quote as _urlquote

PSYCOPG2_IMP_ERR = None
try:
    import psycopg2
    import psycopg2.errorcodes
    import psycopg2.errors  # noqa: F401 - used as pg.psycopg2.errors by postgres_migrations
    from psycopg2 import sql
    HAS_PSYCOPG2 = True
except ImportError as _imp_err:  # pragma: no cover - exercised only without psycopg2
    psycopg2 = None
    sql = None
    PSYCOPG2_IMP_ERR = _imp_err
    HAS_PSYCOPG2 = False

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils.wait import NotReady, wait_until


APPLICATION_NAME_PREFIX = "kubernaut.devinfra"
RECOMMENDED_IMAGES = ("docker.io/pgvector/pgvector:pg17",
                      "localhost/kubernaut-devinfra/postgres-pgvector:17")
REDACTED = "********"
MAX_IDENTIFIER_BYTES = 63

SUITE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SUITE_MARKER = "kubernaut.devinfra postgres_suite_databases clone of "


def postgres_argument_spec():
    """Connection options shared by every postgres_* module (doc fragment: kubernaut.devinfra.postgres)."""
    return dict(
        host=dict(type="str", default="127.0.0.1"),
        port=dict(type="int", default=5432),
        user=dict(type="str", default="slm_user"),
        password=dict(type="str", no_log=True),
        database=dict(type="str", default="action_history"),
        connect_timeout=dict(type="int", default=5),
    )


def validate_connection_params(params):
    """Refuse connection options that can never work, before anything is attempted."""
    port = params.get("port")
    if port is None or not 1 <= int(port) <= 65535:
        raise DevinfraError("Invalid connection options: port must be between 1 and 65535, got %r." % (port,),
                            hint="Use the host port the PostgreSQL container publishes (default 5432).")
    timeout = params.get("connect_timeout")
    if timeout is None or int(timeout) < 1:
        raise DevinfraError("Invalid connection options: connect_timeout must be at least 1 second, got %r."
                            % (timeout,))
    for key in ("host", "user", "database"):
        value = params.get(key)
        if not value:
            raise DevinfraError("Invalid connection options: %s must not be empty." % key)
        if "\x00" in value:
            raise DevinfraError("Invalid connection options: %s contains a NUL byte." % key)


def describe_target(params, database=None):
    return "PostgreSQL at %s:%s (database %s, user %s)" % (
        params["host"], params["port"], database or params["database"], params["user"])


def redacted_dsn(params, database=None):
    """A libpq URI for ``database`` with the password replaced by asterisks."""
    return dsn(params, database, password=REDACTED if params.get("password") else None)


def dsn(params, database=None, password=None):
    userinfo = _urlquote(params["user"], safe="")
    if password:
        userinfo += ":" + (password if password == REDACTED else _urlquote(password, safe=""))
    host = params["host"]
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return "postgresql://%s@%s:%s/%s" % (userinfo, host, params["port"],
                                         _urlquote(database or params["database"], safe=""))


def open_connection(params, application_name, database=None, connect_timeout=None):
    """Open an autocommit connection; raises psycopg2 errors unchanged (callers classify them)."""
    kwargs = dict(
        host=params["host"],
        port=int(params["port"]),
        user=params["user"],
        dbname=database or params["database"],
        connect_timeout=int(connect_timeout or params["connect_timeout"]),
        application_name=application_name,
        client_encoding="UTF8",
    )
    if params.get("password") is not None:
        kwargs["password"] = params["password"]
    conn = psycopg2.connect(**kwargs)
    conn.autocommit = True
    return conn


def connect(params, application_name, database=None, what="connect"):
    """Open an autocommit connection or raise a DevinfraError that says what to do."""
    try:
        return open_connection(params, application_name, database=database)
    except psycopg2.Error as exc:
        raise DevinfraError(
            "Could not %s: connecting to %s failed: %s" % (what, describe_target(params, database),
                                                           first_line(exc)),
            hint="Check that the container is running and ready (kubernaut.devinfra.postgres_ready) "
                 "and that host, port, user, password and database are right.")


def first_line(exc):
    text = ("%s" % (exc,)).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def close_quietly(conn):
    if conn is not None:
        try:
            conn.close()
        except Exception:  # pylint: disable=broad-except
            pass


# --------------------------------------------------------------------------- readiness

# Messages libpq reports while the server cannot serve us yet. psycopg2 gives
# no SQLSTATE for errors raised during connection start-up, so the text decides.
TRANSIENT_CONNECT_MARKERS = (
    "the database system is starting up",          # 57P03
    "the database system is shutting down",        # 57P03, the image's init-time restart
    "the database system is not yet accepting connections",
    "the database system is in recovery mode",
    "connection refused",
    "connection reset",
    "server closed the connection unexpectedly",
    "could not receive data",
    "could not send data",
    "timeout expired",
    "no route to host",
    "network is unreachable",
    "terminating connection due to administrator command",  # 57P01 during restart
    "ssl syscall error",
    "eof detected",
)

# Errors that waiting will not fix: fail at once instead of at the deadline.
PERMANENT_CONNECT_MARKERS = (
    ("password authentication failed",
     "The password does not match the one the data volume was initialised with. POSTGRES_PASSWORD only "
     "applies to a fresh volume: use the original password, or remove the volume to start over."),
    ("no password supplied",
     "Pass the password of the application user."),
    ("does not exist",
     "The role or database does not exist on this server. POSTGRES_USER/POSTGRES_DB only apply to a fresh "
     "volume: check the names, or remove the volume to start over."),
    ("no pg_hba.conf entry",
     "The server refuses this client address; the image allows all hosts with a password."),
    ("could not translate host name",
     "The host name does not resolve; use 127.0.0.1 for a container published on this host."),
)


def classify_connect_error(exc):
    """Return ``"transient"`` or a hint string for a permanent failure."""
    text = ("%s" % (exc,)).lower()
    for marker in TRANSIENT_CONNECT_MARKERS:
        if marker in text:
            return "transient"
    for marker, hint in PERMANENT_CONNECT_MARKERS:
        if marker in text:
            return hint
    pgcode = getattr(exc, "pgcode", None)
    if pgcode and pgcode.startswith(("08", "57")):
        return "transient"
    # Unknown: keep polling; the deadline reports it as the last error.
    return "transient"


def missing_extension_message(name, available):
    if name == "vector":
        return ("The pgvector extension (named `vector` in PostgreSQL) is not %s on this server. "
                "Use an image that ships it: %s or the collection's locally built %s."
                % ("installed" if available else "available", RECOMMENDED_IMAGES[0], RECOMMENDED_IMAGES[1]))
    return ("The extension `%s` is not %s on this server."
            % (name, "installed in the database" if available else "available"))


def probe_ready(params, extensions=(), extensions_available=(), connect_timeout=None):
    """One readiness attempt: TCP + auth + SELECT 1 on the app database + extensions.

    Returns a dict of facts. Raises NotReady for "not yet", DevinfraError for
    failures that waiting cannot fix.
    """
    conn = None
    try:
        try:
            conn = open_connection(params, APPLICATION_NAME_PREFIX + " postgres_ready",
                                   connect_timeout=connect_timeout)
            cur = conn.cursor()
            cur.execute("SELECT 1, current_setting('server_version'), current_setting('server_version_num')")
            _one, version, version_num = cur.fetchone()
            installed = installed_extensions(cur)
            available = {}
            if extensions_available:
                cur.execute("SELECT name, default_version FROM pg_available_extensions WHERE name = ANY(%s)",
                            (list(extensions_available),))
                available = dict(cur.fetchall())
        except psycopg2.Error as exc:
            verdict = classify_connect_error(exc)
            if verdict == "transient":
                raise NotReady(first_line(exc))
            raise DevinfraError("Waiting for %s failed: %s" % (describe_target(params), first_line(exc)),
                                hint=verdict)
    finally:
        close_quietly(conn)
    for name in extensions:
        if name not in installed:
            raise DevinfraError("Waiting for %s: %s" % (describe_target(params),
                                                        missing_extension_message(name, True)),
                                hint="Create it with a migration (`CREATE EXTENSION IF NOT EXISTS %s;`, as the "
                                     "collection's migrations/001 does)." % name,
                                extensions=installed)
    for name in extensions_available:
        if name not in available and name not in installed:
            raise DevinfraError("Waiting for %s: %s" % (describe_target(params),
                                                        missing_extension_message(name, False)),
                                extensions=installed)
    return dict(server_version=version, server_version_num=int(version_num), extensions=installed,
                available_extensions=available)


def read_history(cur, history_table):
    """(version, checksum) pairs of the applied migrations, in order; None without a history table."""
    cur.execute("SELECT to_regclass(%s)", (history_table,))
    if cur.fetchone()[0] is None:
        return None
    cur.execute(sql.SQL("SELECT version, checksum FROM {} ORDER BY version").format(
        sql.Identifier(*history_table.split(".", 1))))
    return tuple((int(v), c) for v, c in cur.fetchall())


def installed_extensions(cur):
    """{name: version} of the extensions installed in the connected database."""
    cur.execute("SELECT extname, extversion FROM pg_extension ORDER BY extname")
    return dict(cur.fetchall())


def _history_digest(cur, history_table):
    history = read_history(cur, history_table)
    return None if history is None else hashlib.sha256(repr(list(history)).encode("utf-8")).hexdigest()


def observe(params, history_table="devinfra_schema_migrations", suite_databases=()):
    """A read-only look at the server, for the bootstrap stamp. Never raises for a
    server that does not answer: ``ready`` is False and ``error`` says why.

    Returns ready, version, extensions (installed names), history (digest of the
    applied migrations, None without a history table) and suite_databases
    (name -> history digest, None for a missing database)."""
    app = APPLICATION_NAME_PREFIX + " instance_observe"
    result = dict(ready=False)
    conn = None
    try:
        conn = open_connection(params, app)
        cur = conn.cursor()
        cur.execute("SELECT current_setting('server_version')")
        result["version"] = cur.fetchone()[0]
        result["extensions"] = sorted(installed_extensions(cur))
        result["history"] = _history_digest(cur, history_table)
        cur.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (list(suite_databases),))
        present = set(row[0] for row in cur.fetchall())
        close_quietly(conn)
        conn = None
        suites = {}
        for name in sorted(suite_databases):
            if name not in present:
                suites[name] = None
                continue
            conn = open_connection(params, app, database=name)
            suites[name] = _history_digest(conn.cursor(), history_table)
            close_quietly(conn)
            conn = None
        result["suite_databases"] = suites
        result["ready"] = True
    except psycopg2.Error as exc:
        result["error"] = "%s: %s" % (describe_target(params), first_line(exc))
    finally:
        close_quietly(conn)
    return result


def wait_for_ready(params, extensions=(), extensions_available=(), timeout=60.0, interval=0.02,
                   clock=time.monotonic, sleep=time.sleep):
    """Poll ``probe_ready`` on a monotonic clock until it passes or ``timeout`` elapses."""
    validate_connection_params(params)
    for name in list(extensions) + list(extensions_available):
        if not name or "\x00" in name:
            raise DevinfraError("Invalid extension name %r." % (name,))
    deadline = clock() + timeout

    def probe():
        # Never let one hanging connect overrun the deadline (libpq's minimum is 2 s).
        remaining = max(2, int(min(params["connect_timeout"], max(0.0, deadline - clock())) + 0.999))
        return probe_ready(params, extensions, extensions_available, connect_timeout=remaining)

    result = wait_until(probe, timeout, describe_target(params), interval=interval, clock=clock, sleep=sleep,
                        hint="Check the container's log (podman logs <container>) and that the port is published.")
    facts = dict(result.value)
    facts.update(elapsed_ms=result.elapsed_ms, attempts=result.attempts)
    return facts


# --------------------------------------------------------------------------- suite databases

def validate_suite_names(suites):
    seen = set()
    for name in suites:
        if not isinstance(name, str) or not SUITE_NAME_RE.match(name):
            raise DevinfraError(
                "Invalid suite name %r: suite names must match %s (lower-case letter first, then lower-case "
                "letters, digits or underscores, at most 40 characters). Nothing was changed."
                % (name, SUITE_NAME_RE.pattern))
        if name in seen:
            raise DevinfraError("Suite %r is listed twice. Nothing was changed." % name)
        seen.add(name)


def suite_database_name(template, suite):
    name = "%s_%s" % (template, suite)
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise DevinfraError(
            "The database name for suite %r would be %r, longer than PostgreSQL's %d-byte limit. "
            "Nothing was changed." % (suite, name, MAX_IDENTIFIER_BYTES),
            hint="Use a shorter suite name or application database name.")
    return name


def plan_suite_databases(template, suites, existing, template_fingerprint, reset):
    """Decide, per suite, what to do. Pure: no database access.

    ``existing`` maps database name -> dict(marker=<comment or None>, fingerprint=<tuple or None>)
    for the suite databases that exist now. Returns a list of dicts with
    suite, database and action in (create, reclone, reset, unchanged).
    """
    plan = []
    for suite in suites:
        database = suite_database_name(template, suite)
        if database == template:
            raise DevinfraError("Suite %r would clone %r onto itself." % (suite, template))
        found = existing.get(database)
        if found is None:
            action = "create"
        else:
            if not (found.get("marker") or "").startswith(SUITE_MARKER):
                raise DevinfraError(
                    "Database %r already exists and was not created by postgres_suite_databases; it was left "
                    "untouched and nothing was changed." % database,
                    hint="Drop or rename it yourself, or choose another suite name.")
            if reset:
                action = "reset"
            elif found.get("fingerprint") != template_fingerprint:
                action = "reclone"
            else:
                action = "unchanged"
        plan.append(dict(suite=suite, database=database, action=action))
    return plan


# How CREATE DATABASE copies the template (PostgreSQL 15+). "default" leaves it
# to the server (WAL_LOG since 15): no checkpoint, gentle on a busy server.
# FILE_COPY copies the files and checkpoints twice; with PGDATA on tmpfs the
# checkpoints cost nothing and a 1,000-table clone took 0.14 s instead of 0.21 s.
CLONE_STRATEGIES = {"default": None, "wal_log": "WAL_LOG", "file_copy": "FILE_COPY"}


def suite_statements(template, item, strategy="default"):
    """The statements that carry out one planned suite action (psycopg2.sql Composed objects)."""
    db = sql.Identifier(item["database"])
    stmts = []
    if item["action"] in ("reclone", "reset"):
        stmts.append(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(db))
    if item["action"] != "unchanged":
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(db, sql.Identifier(template))
        if CLONE_STRATEGIES[strategy]:
            create = sql.SQL("{} STRATEGY {}").format(create, sql.SQL(CLONE_STRATEGIES[strategy]))
        stmts.append(create)
        stmts.append(sql.SQL("COMMENT ON DATABASE {} IS {}").format(db, sql.Literal(SUITE_MARKER + template)))
    return stmts


def history_fingerprint(params, database, history_table, application_name):
    """(version, checksum) pairs of applied migrations in ``database``; None without a history table."""
    conn = connect(params, application_name, database=database,
                   what="read the migration history of database %s" % database)
    try:
        return read_history(conn.cursor(), history_table)
    finally:
        close_quietly(conn)


def ensure_suite_databases(params, suites, reset=False, history_table="devinfra_schema_migrations",
                           maintenance_database="postgres", check_mode=False, strategy="default"):
    """Make one database per suite, cloned from the application database.

    Returns dict(changed, executed, suites={name: {database, dsn, action}}).
    """
    validate_connection_params(params)
    validate_suite_names(suites)
    if strategy not in CLONE_STRATEGIES:
        raise DevinfraError("Unknown clone strategy %r; nothing was changed." % (strategy,),
                            hint="Use one of: %s." % ", ".join(sorted(CLONE_STRATEGIES)))
    template = params["database"]
    for suite in suites:
        suite_database_name(template, suite)
    app = APPLICATION_NAME_PREFIX + " postgres_suite_databases"

    admin = connect(params, app, database=maintenance_database,
                    what="prepare suite databases (maintenance database %s)" % maintenance_database)
    try:
        cur = admin.cursor()
        names = [suite_database_name(template, s) for s in suites]
        cur.execute("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = ANY(%s) OR datname = %s", (names, template))
        rows = dict(cur.fetchall())
        if CLONE_STRATEGIES[strategy] and admin.server_version < 150000:
            raise DevinfraError(
                "Clone strategy %r needs PostgreSQL 15 or newer; %s runs %s. Nothing was changed."
                % (strategy, describe_target(params, maintenance_database), admin.server_version),
                hint="Use strategy default (what the server does without STRATEGY), or a newer server.")
        if template not in rows:
            raise DevinfraError("The application database %r does not exist on %s; nothing was changed."
                                % (template, describe_target(params, maintenance_database)),
                                hint="Run the role's migrations first, or check the database option.")
        existing = {}
        for name in names:
            if name in rows:
                marker = rows[name]
                fp = history_fingerprint(params, name, history_table, app) if (
                    (marker or "").startswith(SUITE_MARKER) and not reset) else None
                existing[name] = dict(marker=marker, fingerprint=fp)
        # The template's history only matters to compare existing clones with;
        # new suites and resets skip that connection.
        template_fp = history_fingerprint(params, template, history_table, app) if not reset and any(
            (item["marker"] or "").startswith(SUITE_MARKER) for item in existing.values()) else None
        plan = plan_suite_databases(template, suites, existing, template_fp, reset)

        executed = []
        for item in plan:
            for stmt in suite_statements(template, item, strategy):
                executed.append(stmt.as_string(admin))
                if not check_mode:
                    _execute_admin(admin, cur, stmt, params, template)
        result = dict(
            changed=any(item["action"] != "unchanged" for item in plan),
            executed=executed,
            suites=dict((item["suite"], dict(database=item["database"], action=item["action"],
                                             dsn=redacted_dsn(params, item["database"])))
                        for item in plan),
        )
        return result
    finally:
        close_quietly(admin)


def _execute_admin(admin, cur, stmt, params, template):
    try:
        cur.execute(stmt)
        return
    except psycopg2.Error as exc:
        if exc.pgcode != psycopg2.errorcodes.OBJECT_IN_USE:
            raise DevinfraError("Creating suite databases failed on %s: %s (SQLSTATE %s) while running: %s"
                                % (describe_target(params), first_line(exc), exc.pgcode, stmt.as_string(admin)))
    # The template has other sessions. Ours (idle, left by an earlier task) may go;
    # anybody else's we name instead of killing.
    cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND application_name LIKE %s AND state = 'idle' AND pid <> pg_backend_pid()",
                (template, APPLICATION_NAME_PREFIX + "%"))
    try:
        cur.execute(stmt)
    except psycopg2.Error as exc:
        cur.execute("SELECT pid, application_name, usename, client_addr::text, state FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (template,))
        sessions = ["pid %s (application_name %r, user %s, client %s, %s)" % row for row in cur.fetchall()]
        raise DevinfraError(
            "Creating suite databases from template %r failed: %s (SQLSTATE %s). Sessions on the template: %s."
            % (template, first_line(exc), exc.pgcode, "; ".join(sessions) or "none left"),
            hint="PostgreSQL copies a template only while nobody else is connected to it: close those sessions "
                 "(or stop the tests using %r) and re-run." % template)
