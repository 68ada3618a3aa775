"""postgres_pgvector role: bad settings are refused before anything exists; check mode creates nothing."""

import json
import os
import tempfile
import uuid

import pytest

from conftest import REPO, free_port, podman, run_playbook

pytestmark = pytest.mark.integration


def run_role(tmp_path, check=False, **role_vars):
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "role under test",
                        "ansible.builtin.include_role": {"name": "kubernaut.devinfra.postgres_pgvector"}}]}]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=REPO, prefix=".test-play-", delete=False) as fh:
        json.dump(play, fh)
    base = {"postgres_pgvector_image": "localhost/kubernaut-devinfra/postgres-pgvector:17",
            "postgres_pgvector_state_dir": str(tmp_path / "state")}
    base.update(role_vars)
    try:
        return run_playbook(fh.name, extra_vars=base, check=check)
    finally:
        os.unlink(fh.name)


def nothing_exists(instance, tmp_path):
    name = "datastorage-postgres-" + instance
    return (podman("container", "exists", name, check=False).returncode != 0
            and podman("volume", "exists", name + "-data", check=False).returncode != 0
            and not (tmp_path / "state").exists())


@pytest.mark.parametrize("bad, match", [
    (dict(postgres_pgvector_bind="0.0.0.0"), "DD-008's published default"),
    (dict(postgres_pgvector_port=0), "postgres_pgvector_port must be 1-65535"),
    (dict(postgres_pgvector_suites=["ok", 'x"; DROP DATABASE postgres; --']), "Invalid suite name"),
    (dict(postgres_pgvector_migrations_dir="/nonexistent/migrations"), "is not a directory"),
])
def test_bad_settings_refused_before_anything_is_created(tmp_path, bad, match):
    instance = "t" + uuid.uuid4().hex[:8]
    run = run_role(tmp_path, devinfra_instance=instance, postgres_pgvector_port=bad.pop("postgres_pgvector_port",
                                                                                        free_port()), **bad)
    assert run.rc != 0
    assert match in run.stdout, run.stdout[-3000:]
    assert nothing_exists(instance, tmp_path)


def test_non_loopback_allowed_with_own_password_in_check_mode(tmp_path):
    instance = "t" + uuid.uuid4().hex[:8]
    run = run_role(tmp_path, check=True, devinfra_instance=instance, postgres_pgvector_port=free_port(),
                   postgres_pgvector_bind="0.0.0.0", postgres_pgvector_password="not-the-default",
                   postgres_pgvector_suites=["contextapi"])
    assert run.rc == 0, run.stdout[-3000:]
    assert run.stats.get("failures", 0) == 0
    assert nothing_exists(instance, tmp_path), "check mode creates nothing"


def test_data_on_tmpfs_runs_migrated_without_a_volume_and_is_idempotent(tmp_path):
    import psycopg2
    instance = "t" + uuid.uuid4().hex[:8]
    name = "datastorage-postgres-" + instance
    port = free_port()
    settings = dict(devinfra_instance=instance, postgres_pgvector_port=port, postgres_pgvector_data_on_tmpfs=True,
                    postgres_pgvector_tmpfs_size="512m", postgres_pgvector_suites=["contextapi"])
    try:
        first = run_role(tmp_path, **settings)
        assert first.rc == 0, first.stdout[-3000:]
        # On a tmpfs the suites are copied file by file (postgres_pgvector_clone_strategy's default there).
        clones = [r for n, r in first.task_results() if "Clone the application database" in n]
        assert clones and clones[0]["executed"][0].endswith("STRATEGY FILE_COPY"), clones
        again = run_role(tmp_path, **settings)
        assert again.rc == 0 and again.stats["changed"] == 0, again.stdout[-3000:]
        info = json.loads(podman("container", "inspect", name).stdout)[0]
        assert info["HostConfig"]["Tmpfs"]["/var/lib/postgresql/data"].startswith("rw,size=512m")
        assert not [m for m in info["Mounts"] if m.get("Type") == "volume"]
        assert podman("volume", "exists", name + "-data", check=False).returncode != 0
        with psycopg2.connect(host="127.0.0.1", port=port, user="slm_user", password="slm_password_dev",
                              dbname="action_history_contextapi") as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                assert cur.fetchone()
    finally:
        podman("rm", "-f", "-v", name, check=False)


def test_bad_tmpfs_size_is_refused_before_anything_is_created(tmp_path):
    instance = "t" + uuid.uuid4().hex[:8]
    run = run_role(tmp_path, devinfra_instance=instance, postgres_pgvector_port=free_port(),
                   postgres_pgvector_data_on_tmpfs=True, postgres_pgvector_tmpfs_size="2g,exec")
    assert run.rc != 0
    assert "postgres_pgvector_tmpfs_size must be a size like" in run.stdout, run.stdout[-3000:]
    assert nothing_exists(instance, tmp_path)
