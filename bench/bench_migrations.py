"""Benchmarks 2 and 3: postgres_migrate vs yoyo-migrations, suite clones vs migrating from scratch.

One throwaway PostgreSQL container; 1,000 generated small migration files,
written once per tool in its own format (identical SQL). Every apply runs on a
fresh database. Each round runs every contender once, the order alternating
between rounds, so drift on a noisy machine hits all of them alike.
"""

import os
import shutil
import tempfile
import time

import common
from common import fmt_ratio, fmt_s, median, table, verdict

from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres_migrations as migrations

CONTAINER = "devinfra-bench-migrations"
FILES = 1000


def migration_sql(i):
    # Small but real DDL: a table (identity, text, default), an index, and every
    # fifth file an ALTER of an earlier table, as a schema's history would have.
    sql = ("-- generated benchmark migration %04d\n"
           "CREATE TABLE bench_t%04d (\n"
           "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
           "    name text NOT NULL,\n"
           "    created_at timestamptz NOT NULL DEFAULT now()\n"
           ");\n"
           "CREATE INDEX bench_t%04d_name_idx ON bench_t%04d (name);\n" % (i, i, i, i))
    if i % 5 == 0:
        sql += "ALTER TABLE bench_t%04d ADD COLUMN note text;\n" % (i - 1)
    return sql


def generate(root):
    """Write the same SQL in postgres_migrate's layout and in yoyo's."""
    ours = os.path.join(root, "devinfra")
    yoyo_dir = os.path.join(root, "yoyo")
    os.makedirs(ours)
    os.makedirs(yoyo_dir)
    for i in range(1, FILES + 1):
        sql = migration_sql(i)
        with open(os.path.join(ours, "%04d_create_bench_t%04d.sql" % (i, i)), "w") as fh:
            fh.write(sql)
        # yoyo: one .sql file per migration, its id is the file name; explicit
        # `-- depends:` keeps the order identical to ours.
        depends = "-- depends: %04d_create_bench_t%04d\n" % (i - 1, i - 1) if i > 1 else ""
        with open(os.path.join(yoyo_dir, "%04d_create_bench_t%04d.sql" % (i, i)), "w") as fh:
            fh.write(depends + sql)
    return ours, yoyo_dir


class Server(object):
    def __init__(self, port):
        self.port = port
        self.counter = 0

    def admin(self):
        return pg.connect(common.pg_params(self.port), "kubernaut.devinfra bench", database="postgres")

    def fresh_database(self, prefix):
        self.counter += 1
        name = "%s_%d" % (prefix, self.counter)
        conn = self.admin()
        try:
            conn.cursor().execute('CREATE DATABASE "%s"' % name)
        finally:
            conn.close()
        return name

    def drop(self, name):
        conn = self.admin()
        try:
            conn.cursor().execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        finally:
            conn.close()

    def url(self, database):
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (common.PG_USER, common.PG_PASSWORD, self.port, database)


def ours_library(server, ours_dir, database):
    params = common.pg_params(server.port, database)
    t, result = common.timed(migrations.apply_migrations, params, ours_dir)
    assert len(result["applied"]) in (0, FILES), result["current_version"]
    return t, len(result["applied"])


def yoyo_library(server, yoyo_dir, database):
    from yoyo import get_backend, read_migrations
    start = time.monotonic()
    backend = get_backend(server.url(database))
    found = read_migrations(yoyo_dir)
    with backend.lock():
        pending = backend.to_apply(found)
        backend.apply_migrations(pending)
    n = len(pending)
    backend.connection.close()
    return time.monotonic() - start, n


def ours_ansible(server, ours_dir, database, play_dir):
    """The module through ansible-playbook: (wall, task time) from the json callback."""
    play = os.path.join(play_dir, "migrate-%s.yml" % database)
    with open(play, "w") as fh:
        fh.write("""- hosts: localhost
  gather_facts: false
  tasks:
    - name: migrate
      kubernaut.devinfra.postgres_migrate:
        host: 127.0.0.1
        port: %d
        user: %s
        password: %s
        database: %s
        migrations_dir: %s
""" % (server.port, common.PG_USER, common.PG_PASSWORD, database, ours_dir))
    wall, _proc, data = common.ansible_playbook(play, json_output=True)
    durations = common.task_durations(data)
    return wall, durations[-1][1]


def yoyo_cli(server, yoyo_dir, database):
    start = time.monotonic()
    common.run([os.path.join(common.VENV_BIN, "yoyo"), "apply", "--batch", "--no-config-file",
                "--database", server.url(database), yoyo_dir], cwd=tempfile.gettempdir())
    return time.monotonic() - start


def clone_suite(server, template, suite, strategy="default"):
    params = common.pg_params(server.port, template)
    t, result = common.timed(pg.ensure_suite_databases, params, [suite], strategy=strategy)
    assert result["suites"][suite]["action"] == "create", result
    return t, result["suites"][suite]["database"]


def scratch_suite(server, ours_dir):
    """The baseline for a suite database: create it empty and migrate it from scratch."""
    start = time.monotonic()
    name = server.fresh_database("bench_scratch")
    ours_library(server, ours_dir, name)
    return time.monotonic() - start, name


TMPFS = "devinfra-bench-migrations-tmpfs"
# What postgres_pgvector_data_on_tmpfs: true gives the container (the role's default size).
TMPFS_ARGS = ["--tmpfs", "/var/lib/postgresql/data:rw,size=2g,mode=0700"]
TUNED = "devinfra-bench-migrations-tuned"
# What-if for the recommendations: durability off, as a throwaway test server can afford.
TUNED_ARGS = ["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]


def raw_clone(server, template, strategy):
    conn = server.admin()
    try:
        start = time.monotonic()
        conn.cursor().execute('CREATE DATABASE bench_raw TEMPLATE "%s" STRATEGY %s' % (template, strategy))
        elapsed = time.monotonic() - start
        conn.cursor().execute("DROP DATABASE bench_raw")
        return elapsed
    finally:
        conn.close()


def run(rounds):
    port = common.free_port()
    tuned_port = common.free_port()
    root = tempfile.mkdtemp(prefix="devinfra-bench-migrations-")
    samples = dict((k, []) for k in (
        "ours_lib_apply", "ours_lib_noop", "yoyo_lib_apply", "yoyo_lib_noop",
        "ours_pb_apply_wall", "ours_pb_apply_task", "ours_pb_noop_wall", "ours_pb_noop_task",
        "yoyo_cli_apply", "yoyo_cli_noop", "suite_clone", "suite_scratch",
        "raw_wal_log", "raw_file_copy", "tuned_clone", "tuned_file_copy", "tuned_apply",
        "tmpfs_clone", "tmpfs_scratch"))
    tmpfs_port = common.free_port()
    try:
        ours_dir, yoyo_dir = generate(root)
        common.log("migrations: starting %s on 127.0.0.1:%d" % (CONTAINER, port))
        common.start_postgres(CONTAINER, port)
        common.wait_postgres(port)
        server = Server(port)
        template = server.fresh_database("bench_template")
        ours_library(server, ours_dir, template)
        common.remove_container(TUNED)
        common.podman("run", "-d", "--name", TUNED, "--label", common.BENCH_LABEL,
                      "-p", "127.0.0.1:%d:5432" % tuned_port, "-e", "POSTGRES_USER=" + common.PG_USER,
                      "-e", "POSTGRES_PASSWORD=" + common.PG_PASSWORD, "-e", "POSTGRES_DB=" + common.PG_DATABASE,
                      common.POSTGRES_IMAGE, *TUNED_ARGS)
        common.wait_postgres(tuned_port)
        tuned = Server(tuned_port)
        tuned_template = tuned.fresh_database("bench_template")
        ours_library(tuned, ours_dir, tuned_template)
        common.remove_container(TMPFS)
        common.podman("run", "-d", "--name", TMPFS, "--label", common.BENCH_LABEL,
                      "-p", "127.0.0.1:%d:5432" % tmpfs_port, "-e", "POSTGRES_USER=" + common.PG_USER,
                      "-e", "POSTGRES_PASSWORD=" + common.PG_PASSWORD, "-e", "POSTGRES_DB=" + common.PG_DATABASE,
                      *(TMPFS_ARGS + [common.POSTGRES_IMAGE]))
        common.wait_postgres(tmpfs_port)
        in_memory = Server(tmpfs_port)
        tmpfs_template = in_memory.fresh_database("bench_template")
        ours_library(in_memory, ours_dir, tmpfs_template)

        def ours_lib():
            db = server.fresh_database("bench_ours")
            t, n = ours_library(server, ours_dir, db)
            assert n == FILES
            samples["ours_lib_apply"].append(t)
            t, n = ours_library(server, ours_dir, db)
            assert n == 0
            samples["ours_lib_noop"].append(t)
            server.drop(db)

        def yoyo_lib():
            db = server.fresh_database("bench_yoyo")
            t, n = yoyo_library(server, yoyo_dir, db)
            assert n == FILES, n
            samples["yoyo_lib_apply"].append(t)
            t, n = yoyo_library(server, yoyo_dir, db)
            assert n == 0, n
            samples["yoyo_lib_noop"].append(t)
            server.drop(db)

        def ours_pb():
            db = server.fresh_database("bench_ourspb")
            wall, task = ours_ansible(server, ours_dir, db, root)
            samples["ours_pb_apply_wall"].append(wall)
            samples["ours_pb_apply_task"].append(task)
            wall, task = ours_ansible(server, ours_dir, db, root)
            samples["ours_pb_noop_wall"].append(wall)
            samples["ours_pb_noop_task"].append(task)
            server.drop(db)

        def yoyo_cmd():
            db = server.fresh_database("bench_yoyocli")
            samples["yoyo_cli_apply"].append(yoyo_cli(server, yoyo_dir, db))
            samples["yoyo_cli_noop"].append(yoyo_cli(server, yoyo_dir, db))
            server.drop(db)

        def clone_then_scratch(srv, tpl, key, strategy="default"):
            """One suite cloned from ``tpl``, one migrated from scratch, on ``srv``: samples <key>_clone/_scratch."""
            t, db = clone_suite(srv, tpl, "s%d" % (len(samples[key + "_clone"]) + 1), strategy)
            samples[key + "_clone"].append(t)
            srv.drop(db)
            t, db = scratch_suite(srv, ours_dir)
            samples[key + "_scratch"].append(t)
            srv.drop(db)

        def suites():
            clone_then_scratch(server, template, "suite")
            samples["raw_wal_log"].append(raw_clone(server, template, "WAL_LOG"))
            samples["raw_file_copy"].append(raw_clone(server, template, "FILE_COPY"))

        def tuned_server():
            t, db = clone_suite(tuned, tuned_template, "s%d" % (len(samples["tuned_clone"]) + 1))
            samples["tuned_clone"].append(t)
            tuned.drop(db)
            samples["tuned_file_copy"].append(raw_clone(tuned, tuned_template, "FILE_COPY"))
            db = tuned.fresh_database("bench_ours")
            samples["tuned_apply"].append(ours_library(tuned, ours_dir, db)[0])
            tuned.drop(db)

        def tmpfs_server():
            # As the role clones there: postgres_pgvector_clone_strategy is file_copy on a tmpfs.
            clone_then_scratch(in_memory, tmpfs_template, "tmpfs", "file_copy")

        contenders = [ours_lib, yoyo_lib, ours_pb, yoyo_cmd, suites, tuned_server, tmpfs_server]
        for i in range(rounds):
            order = contenders if i % 2 == 0 else list(reversed(contenders))
            for fn in order:
                fn()
            common.log("migrations: round %d/%d done (ours %.2fs, yoyo %.2fs, clone %.3fs)"
                       % (i + 1, rounds, samples["ours_lib_apply"][-1], samples["yoyo_lib_apply"][-1],
                          samples["suite_clone"][-1]))
    finally:
        common.remove_container(CONTAINER)
        common.remove_container(TUNED)
        common.remove_container(TMPFS)
        shutil.rmtree(root, ignore_errors=True)
    return report(samples, rounds)


def report(s, rounds):
    m = dict((k, median(v)) for k, v in s.items())
    rows = [
        ("apply %d files, library call" % FILES, fmt_s(m["ours_lib_apply"]), fmt_s(m["yoyo_lib_apply"]),
         fmt_ratio(m["ours_lib_apply"] / m["yoyo_lib_apply"])),
        ("no-op re-run, library call", fmt_s(m["ours_lib_noop"]), fmt_s(m["yoyo_lib_noop"]),
         fmt_ratio(m["ours_lib_noop"] / m["yoyo_lib_noop"])),
        ("apply, ansible-playbook / yoyo CLI (wall)", fmt_s(m["ours_pb_apply_wall"]), fmt_s(m["yoyo_cli_apply"]),
         fmt_ratio(m["ours_pb_apply_wall"] / m["yoyo_cli_apply"])),
        ("apply, module task time (json callback) / yoyo CLI", fmt_s(m["ours_pb_apply_task"]),
         fmt_s(m["yoyo_cli_apply"]), fmt_ratio(m["ours_pb_apply_task"] / m["yoyo_cli_apply"])),
        ("no-op, ansible-playbook / yoyo CLI (wall)", fmt_s(m["ours_pb_noop_wall"]), fmt_s(m["yoyo_cli_noop"]),
         fmt_ratio(m["ours_pb_noop_wall"] / m["yoyo_cli_noop"])),
        ("no-op, module task time / yoyo CLI", fmt_s(m["ours_pb_noop_task"]), fmt_s(m["yoyo_cli_noop"]),
         fmt_ratio(m["ours_pb_noop_task"] / m["yoyo_cli_noop"])),
    ]
    apply_ok = m["ours_lib_apply"] < m["yoyo_lib_apply"] and m["ours_pb_apply_task"] < m["yoyo_cli_apply"]
    noop_ok = m["ours_lib_noop"] <= 1.0
    text = ["## 2. Migrations: postgres_migrate vs yoyo-migrations %s" % _yoyo_version(), "",
            "%d generated files (CREATE TABLE + CREATE INDEX, every fifth an ALTER of an earlier table), the "
            "same SQL for both tools; a fresh database per apply on one PostgreSQL 17 container; %d rounds, "
            "contenders interleaved, order alternating. Library call = `postgres_migrations.apply_migrations` "
            "vs yoyo's `get_backend`/`read_migrations`/`apply_migrations` in this process (both include reading "
            "and parsing the files). Module task time = the task's duration in the json callback, i.e. without "
            "ansible-playbook's start-up." % (FILES, rounds), "",
            table(["measure", "postgres_migrate (median)", "yoyo (median)", "ratio ours/yoyo"], rows), "",
            "Targets: apply faster than yoyo: %s; no-op check ≤ 1 s of module time (the library call, %s): %s "
            "(as an Ansible task, with AnsiballZ packaging and a fresh interpreter: %s)."
            % (verdict(apply_ok), fmt_s(m["ours_lib_noop"]), verdict(noop_ok), fmt_s(m["ours_pb_noop_task"])), "",
            "## 3. Suite database from the template vs migrating from scratch", "",
            "Per suite: `postgres.ensure_suite_databases` for one new suite (CREATE DATABASE ... TEMPLATE of the "
            "%d-file schema, comment, history fingerprints) vs CREATE DATABASE + `apply_migrations` of the same "
            "%d files; %d rounds, interleaved." % (FILES, FILES, rounds), "",
            table(["measure", "from template (median)", "from scratch (median)", "speed-up"],
                  [("per-suite time", fmt_s(m["suite_clone"]), fmt_s(m["suite_scratch"]),
                    fmt_ratio(m["suite_scratch"] / m["suite_clone"]))]), "",
            "Targets: ≥ 10× faster: %s; ≤ 0.3 s per suite: %s."
            % (verdict(m["suite_scratch"] / m["suite_clone"] >= 10), verdict(m["suite_clone"] <= 0.3)), "",
            "With `postgres_pgvector_data_on_tmpfs: true` (opt-in: PGDATA on a tmpfs, `%s`; the data is gone "
            "when the container stops; suites cloned with `STRATEGY FILE_COPY`, as the role does there), "
            "on a third server:" % " ".join(TMPFS_ARGS), "",
            table(["measure", "from template (median)", "from scratch (median)", "speed-up"],
                  [("per-suite time, PGDATA on tmpfs", fmt_s(m["tmpfs_clone"]), fmt_s(m["tmpfs_scratch"]),
                    fmt_ratio(m["tmpfs_scratch"] / m["tmpfs_clone"]))]), "",
            "Targets with it: ≥ 10× faster: %s; ≤ 0.3 s per suite: %s."
            % (verdict(m["tmpfs_scratch"] / m["tmpfs_clone"] >= 10), verdict(m["tmpfs_clone"] <= 0.3)), "",
            "What-if, same rounds (for the recommendations, not the role's current behaviour): the bare "
            "`CREATE DATABASE ... TEMPLATE` by strategy, and a second server started with `%s`." % " ".join(TUNED_ARGS[1:]),
            "",
            table(["what-if", "median", "vs ensure_suite_databases now"], [
                ("CREATE DATABASE ... STRATEGY WAL_LOG (PostgreSQL 15+ default)", fmt_s(m["raw_wal_log"]),
                 fmt_ratio(m["raw_wal_log"] / m["suite_clone"])),
                ("CREATE DATABASE ... STRATEGY FILE_COPY", fmt_s(m["raw_file_copy"]),
                 fmt_ratio(m["raw_file_copy"] / m["suite_clone"])),
                ("durability off: ensure_suite_databases", fmt_s(m["tuned_clone"]),
                 fmt_ratio(m["tuned_clone"] / m["suite_clone"])),
                ("durability off: CREATE DATABASE ... STRATEGY FILE_COPY", fmt_s(m["tuned_file_copy"]),
                 fmt_ratio(m["tuned_file_copy"] / m["suite_clone"])),
                ("durability off: apply %d files (vs apply with defaults)" % FILES, fmt_s(m["tuned_apply"]),
                 fmt_ratio(m["tuned_apply"] / m["ours_lib_apply"])),
            ]), "",
            "Raw samples (s): " + "; ".join("%s %s" % (k, " ".join("%.3f" % x for x in v)) for k, v in s.items()),
            ""]
    return "\n".join(text), dict(medians=m)


def _yoyo_version():
    try:
        from importlib.metadata import version
        return version("yoyo-migrations")
    except Exception:  # pylint: disable=broad-except
        return ""


if __name__ == "__main__":
    import sys
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1)[0])
