"""The user-facing product end to end: bootstrap -> a sample suite that reads
only the manifest -> no-op re-run -> reset one suite -> cleanup, plus two
instances side by side, check mode, diagnostics and secrets in -vvv output.

Non-default instances only, so a developer's `dev` infrastructure is never touched.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

from conftest import REPO, podman, run_playbook

pytestmark = pytest.mark.slow

BOOTSTRAP = os.path.join(REPO, "playbooks", "bootstrap.yml")
CLEANUP = os.path.join(REPO, "playbooks", "cleanup.yml")
RESET = os.path.join(REPO, "playbooks", "reset.yml")
STATUS = os.path.join(REPO, "playbooks", "status.yml")
SUITES = ["alpha", "beta"]
PASSWORD = "fs-Secret-%s" % uuid.uuid4().hex[:10]


def vars_for(instance, **extra):
    out = {"devinfra_instance": instance, "devinfra_image_source": "build",
           "postgres_pgvector_suites": SUITES, "redis_suites": SUITES,
           "postgres_pgvector_password": PASSWORD}
    out.update(extra)
    return out


def manifest(instance):
    with open(os.path.join(REPO, ".devinfra", instance, "connection.json")) as fh:
        return json.load(fh)


def ours(instance, kind="ps"):
    args = ["ps", "-a"] if kind == "ps" else [kind, "ls"]
    out = podman(*(args + ["--format", "json", "--filter", "label=io.kubernaut.devinfra.instance=%s" % instance]))
    return json.loads(out.stdout or "[]")


def cleanup(instance):
    run_playbook(CLEANUP, {"devinfra_instance": instance, "devinfra_purge": True})


@pytest.fixture(scope="module")
def stack():
    instance = "fs-%s" % uuid.uuid4().hex[:6]
    decoy = "devinfra-decoy-%s" % uuid.uuid4().hex[:6]
    podman("volume", "create", decoy)
    podman("create", "--name", decoy, "-v", "%s:/data" % decoy, "localhost/kubernaut-devinfra/redis:7")
    run = run_playbook(BOOTSTRAP, vars_for(instance))
    try:
        yield instance, decoy, run
    finally:
        cleanup(instance)
        podman("rm", "-f", "-v", decoy, check=False)
        podman("volume", "rm", decoy, check=False)


def test_bootstrap_writes_a_manifest_a_suite_can_use(stack):
    instance, run = stack[0], stack[2]
    assert run.rc == 0, run.stdout[-4000:]
    m = manifest(instance)
    assert m["postgres"]["host"] == "127.0.0.1" and m["redis"]["host"] == "127.0.0.1"
    assert m["postgres"]["port"] != 5432 and m["redis"]["port"] != 6379
    assert sorted(m["suites"]) == SUITES
    for suite in SUITES:
        env = open(os.path.join(REPO, ".devinfra", instance, "suites", suite + ".env")).read()
        assert "DATABASE_URL=" in env and "REDIS_URL=" in env
    for name in ("connection.json", "env"):
        assert oct(os.stat(os.path.join(REPO, ".devinfra", instance, name)).st_mode & 0o777) == "0o600"
    sample = os.path.join(REPO, "tests", "integration", "sample_suite", "sample_suite.py")
    env = dict(os.environ, DEVINFRA_MANIFEST=os.path.join(REPO, ".devinfra", instance, "connection.json"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", sample],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def stamp_check(run):
    """The fast-path check's result in a bootstrap run."""
    found = [res for name, res in run.task_results() if name.endswith("Check whether the instance is already up and current")
             and "current" in res]
    assert len(found) == 1, [name for name, _res in run.task_results()]
    return found[0]


def test_second_bootstrap_changes_nothing(stack):
    instance = stack[0]
    again = run_playbook(BOOTSTRAP, vars_for(instance))
    assert again.rc == 0, again.stdout[-3000:]
    changed = [name for name, res in again.task_results() if res.get("changed")]
    assert again.stats["changed"] == 0, changed
    # ...and it knew so from the stamp, in one step, without running the roles.
    check = stamp_check(again)
    assert check["current"] is True and check["reasons"] == []
    assert len(again.task_results()) <= 4, [name for name, _res in again.task_results()]


def test_full_path_without_the_stamp_changes_nothing_either(stack):
    instance = stack[0]
    again = run_playbook(BOOTSTRAP, vars_for(instance, devinfra_fast_path=False))
    assert again.rc == 0, again.stdout[-3000:]
    changed = [name for name, res in again.task_results() if res.get("changed")]
    assert again.stats["changed"] == 0, changed
    assert len(again.task_results()) > 40


def test_stamp_holds_no_secret_and_is_private(stack):
    instance = stack[0]
    path = os.path.join(REPO, ".devinfra", instance, ".bootstrap-stamp-localhost.json")
    text = open(path).read()
    assert PASSWORD not in text
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_stopped_container_sends_the_next_run_down_the_full_path(stack):
    instance = stack[0]
    name = manifest(instance)["redis"]["container"]
    podman("stop", "-t", "1", name)
    run = run_playbook(BOOTSTRAP, vars_for(instance))
    assert run.rc == 0, run.stdout[-3000:]
    check = stamp_check(run)
    assert check["current"] is False
    assert any("%s is not running" % name in r for r in check["reasons"]), check["reasons"]
    assert podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip() == "true"
    assert stamp_check(run_playbook(BOOTSTRAP, vars_for(instance)))["current"] is True


def test_a_changed_variable_or_migration_is_never_skipped(tmp_path):
    instance = "fp-%s" % uuid.uuid4().hex[:6]
    migrations = tmp_path / "migrations"
    shutil.copytree(os.path.join(REPO, "migrations"), str(migrations))
    extra = {"devinfra_instance": instance, "devinfra_image_source": "build",
             "postgres_pgvector_migrations_dir": str(migrations)}
    try:
        first = run_playbook(BOOTSTRAP, extra)
        assert first.rc == 0, first.stdout[-3000:]
        assert stamp_check(first)["current"] is False  # no stamp yet
        assert stamp_check(run_playbook(BOOTSTRAP, extra))["current"] is True
        (migrations / "900_fast_path_probe.sql").write_text("CREATE TABLE fast_path_probe (id int);\n")
        run = run_playbook(BOOTSTRAP, extra)
        assert run.rc == 0, run.stdout[-3000:]
        assert stamp_check(run)["current"] is False
        assert any(res.get("changed") for name, res in run.task_results() if "apply the migrations" in name.lower())
        other = run_playbook(BOOTSTRAP, dict(extra, redis_suites=["gamma"]))
        assert other.rc == 0, other.stdout[-3000:]
        assert stamp_check(other)["current"] is False
        assert "gamma" in manifest(instance)["suites"]
    finally:
        cleanup(instance)


def test_status_is_read_only_and_shows_each_component(stack):
    instance = stack[0]
    run = run_playbook(STATUS, {"devinfra_instance": instance})
    assert run.rc == 0, run.stdout[-3000:]
    assert run.stats["changed"] == 0
    text = json.dumps(run.data)
    assert "postgres" in text and "redis" in text and "running" in text
    assert PASSWORD not in text


def test_reset_one_suite_keeps_the_other(stack):
    import psycopg2
    import redis
    instance = stack[0]
    m = manifest(instance)
    for suite in SUITES:
        conn = psycopg2.connect(m["suites"][suite]["database_url"])
        conn.autocommit = True
        conn.cursor().execute("CREATE TABLE IF NOT EXISTS reset_probe (id int)")
        conn.close()
        redis.Redis.from_url(m["suites"][suite]["redis_url"]).set("reset:probe", suite)
    run = run_playbook(RESET, {"devinfra_instance": instance, "devinfra_reset_suites": "alpha"})
    assert run.rc == 0, run.stdout[-3000:]

    def has_table(suite):
        conn = psycopg2.connect(m["suites"][suite]["database_url"])
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('reset_probe') IS NOT NULL")
            value = cur.fetchone()[0]
        conn.close()
        return value

    assert has_table("alpha") is False
    assert has_table("beta") is True
    assert redis.Redis.from_url(m["suites"]["alpha"]["redis_url"]).get("reset:probe") is None
    assert redis.Redis.from_url(m["suites"]["beta"]["redis_url"]).get("reset:probe") == b"beta"


def test_bootstrap_after_a_reset_is_still_a_no_op(stack):
    instance = stack[0]
    run = run_playbook(BOOTSTRAP, vars_for(instance))
    assert run.rc == 0 and run.stats["changed"] == 0, run.stdout[-3000:]


def test_two_instances_side_by_side_then_cleanup_of_one(stack):
    first = stack[0]
    second = "fs2-%s" % uuid.uuid4().hex[:6]
    try:
        run = run_playbook(BOOTSTRAP, vars_for(second, postgres_pgvector_suites=[], redis_suites=[]))
        assert run.rc == 0, run.stdout[-3000:]
        a, b = manifest(first), manifest(second)
        assert {a["postgres"]["port"], a["redis"]["port"]}.isdisjoint({b["postgres"]["port"], b["redis"]["port"]})
        assert a["postgres"]["container"] != b["postgres"]["container"]
        gone = run_playbook(CLEANUP, {"devinfra_instance": second})
        assert gone.rc == 0
        assert ours(second) == []
        assert len([c for c in ours(first) if c["State"] == "running"]) == 2
    finally:
        cleanup(second)


def test_cleanup_removes_only_ours_and_is_idempotent(stack):
    instance, decoy = stack[0], stack[1]
    third = "fs3-%s" % uuid.uuid4().hex[:6]
    try:
        assert run_playbook(BOOTSTRAP, vars_for(third, devinfra_components=["redis"], redis_suites=[])).rc == 0
        first = run_playbook(CLEANUP, {"devinfra_instance": third})
        assert first.rc == 0 and first.stats["changed"] > 0
        assert ours(third) == []
        assert ours(third, "volume"), "data volumes are kept without devinfra_purge"
        again = run_playbook(CLEANUP, {"devinfra_instance": third})
        assert again.rc == 0 and again.stats["changed"] == 0
        purge = run_playbook(CLEANUP, {"devinfra_instance": third, "devinfra_purge": True})
        assert purge.rc == 0 and ours(third, "volume") == []
    finally:
        cleanup(third)
    assert podman("container", "exists", decoy, check=False).returncode == 0
    assert podman("volume", "exists", decoy, check=False).returncode == 0
    assert len(ours(instance)) == 2


def test_check_mode_on_a_clean_host_creates_nothing():
    instance = "fs4-%s" % uuid.uuid4().hex[:6]
    state = os.path.expanduser("~/.local/state/kubernaut-devinfra/%s" % instance)
    run = run_playbook(BOOTSTRAP, vars_for(instance), check=True)
    try:
        assert ours(instance) == [] and ours(instance, "volume") == []
        assert not os.path.exists(os.path.join(REPO, ".devinfra", instance))
        assert not os.path.exists(state)
        assert run.rc == 0, run.stdout[-3000:]
    finally:
        cleanup(instance)


def test_forced_failure_leaves_redacted_diagnostics():
    instance = "fs5-%s" % uuid.uuid4().hex[:6]
    broken = tempfile.mkdtemp(prefix="devinfra-broken-")
    shutil.copy(os.path.join(REPO, "migrations", sorted(os.listdir(os.path.join(REPO, "migrations")))[0]), broken)
    with open(os.path.join(broken, "900_broken.sql"), "w") as fh:
        fh.write("CREATE TABLE ok_one (id int);\nSELECT * FROM no_such_table_here;\n")
    try:
        run = run_playbook(BOOTSTRAP, vars_for(instance, postgres_pgvector_suites=[], redis_suites=[],
                                               postgres_pgvector_migrations_dir=broken), verbosity=3)
        assert run.rc != 0
        diag = os.path.join(REPO, ".devinfra", instance, "diagnostics")
        assert diag in run.stdout
        files = os.listdir(diag)
        assert "failure.txt" in files and any(f.endswith(".log") for f in files)
        assert any(f.endswith(".inspect.json") for f in files)
        assert "migration_history.txt" in files and "pg_stat_activity.txt" in files
        assert "900_broken.sql" in open(os.path.join(diag, "failure.txt")).read()
        for name in files:
            assert PASSWORD not in open(os.path.join(diag, name)).read(), name
        assert PASSWORD not in run.stdout + run.stderr
    finally:
        cleanup(instance)
        shutil.rmtree(broken, ignore_errors=True)


def test_no_secret_in_verbose_output():
    instance = "fs6-%s" % uuid.uuid4().hex[:6]
    try:
        run = run_playbook(BOOTSTRAP, vars_for(instance, redis_password="Redis-" + PASSWORD,
                                               redis_bind="127.0.0.1"), verbosity=3,
                           env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
        assert run.rc == 0, run.stdout[-3000:]
        output = run.stdout + run.stderr
        assert output.count(PASSWORD) == 0
    finally:
        cleanup(instance)
