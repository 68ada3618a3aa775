"""Helpers for tests that drive real Ansible against real Podman containers.

Nothing here mocks a database or Podman: ``run_module`` runs a module through
``ansible-playbook`` exactly as a user's playbook would, and the container
fixtures start real PostgreSQL+pgvector and Redis from the collection's images.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
TEST_LABEL = "io.kubernaut.devinfra.test"

POSTGRES_IMAGE = os.environ.get(
    "DEVINFRA_TEST_POSTGRES_IMAGE", "localhost/kubernaut-devinfra/postgres-pgvector:17")
REDIS_IMAGE = os.environ.get("DEVINFRA_TEST_REDIS_IMAGE", "localhost/kubernaut-devinfra/redis:7")


def ansible_env(**extra):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra)
    return env


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PlaybookRun(object):
    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    @property
    def stats(self):
        return self.data.get("stats", {}).get("localhost", {})

    def task_results(self):
        """Every task result for localhost, in order, as (task name, result)."""
        out = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                res = task.get("hosts", {}).get("localhost")
                if res is not None:
                    out.append((task["task"]["name"], res))
        return out


def run_playbook(path, extra_vars=None, check=False, diff=False, verbosity=0, env=None,
                 inventory=None, timeout=900):
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), path]
    if inventory:
        cmd += ["-i", inventory]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, cwd=REPO, env=ansible_env(**(env or {})), capture_output=True,
                          text=True, timeout=timeout, check=False)
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        data = {}
    return PlaybookRun(proc, data)


def run_module(module, args, check=False, diff=False, **kwargs):
    """Run one module as a one-task playbook; return its result dict.

    ``module`` is a short name (``postgres_ready``) or an FQCN.
    """
    fqcn = module if "." in module else "kubernaut.devinfra." + module
    play = [{
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [{"name": "module under test", fqcn: args}],
    }]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="devinfra-test-play-",
                                     delete=False) as fh:
        json.dump(play, fh)
    try:
        run = run_playbook(fh.name, check=check, diff=diff, **kwargs)
    finally:
        os.unlink(fh.name)
    results = run.task_results()
    if not results:
        raise AssertionError("ansible-playbook ran no task:\n%s\n%s" % (run.stdout, run.stderr))
    return results[-1][1]


def podman(*args, check=True):
    proc = subprocess.run(["podman"] + list(args), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("podman %s failed: %s" % (" ".join(args), proc.stderr))
    return proc


def run_test_container(name, *args):
    """podman run -d a container carrying the test label; when it fails to start
    (podman creates it first), remove it and its anonymous volumes before failing."""
    try:
        return podman("run", "-d", "--name", name, "--label", TEST_LABEL + "=1", *args)
    except AssertionError:
        podman("rm", "-f", "-v", name, check=False)
        raise


def wait_port(port, timeout=60):
    """Test-side readiness for fixtures: poll until TCP accepts (no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("port %d did not open in %ds" % (port, timeout))


class Container(object):
    def __init__(self, name, port, **info):
        self.name = name
        self.port = port
        self.__dict__.update(info)

    def remove(self):
        podman("rm", "-f", "-v", self.name, check=False)


def _require_image(image):
    if podman("image", "exists", image, check=False).returncode != 0:
        pytest.fail("image %s is missing: run `make images` (or the test session's image "
                    "fixture) first" % image)


@pytest.fixture
def postgres_container():
    """Factory: start a fresh PostgreSQL+pgvector container on a free port."""
    started = []

    def start(user="slm_user", password="test_password", database="action_history",
              wait=True, extra=()):
        _require_image(POSTGRES_IMAGE)
        port = free_port()
        name = "devinfra-test-pg-%s" % uuid.uuid4().hex[:8]
        run_test_container(name, "-p", "127.0.0.1:%d:5432" % port,
                           "-e", "POSTGRES_USER=" + user, "-e", "POSTGRES_PASSWORD=" + password,
                           "-e", "POSTGRES_DB=" + database, *extra, POSTGRES_IMAGE)
        c = Container(name, port, user=user, password=password, database=database,
                      host="127.0.0.1")
        started.append(c)
        if wait:
            run_module("postgres_ready", {"host": "127.0.0.1", "port": port, "user": user,
                                          "password": password, "database": database,
                                          "wait_timeout": 60})
        return c

    yield start
    for c in started:
        c.remove()


@pytest.fixture
def redis_container():
    """Factory: start a fresh Redis container on a free port."""
    started = []

    def start(args=(), extra=()):
        _require_image(REDIS_IMAGE)
        port = free_port()
        name = "devinfra-test-redis-%s" % uuid.uuid4().hex[:8]
        run_test_container(name, "-p", "127.0.0.1:%d:6379" % port, *extra, REDIS_IMAGE,
                           "redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no",
                           *args)
        c = Container(name, port, host="127.0.0.1")
        started.append(c)
        wait_port(port)
        return c

    yield start
    for c in started:
        c.remove()


# --------------------------------------------------------------------------- PostgreSQL (issue 3)

class PostgresServer(Container):
    """One real server shared by a test module; tests get their own database on it."""

    def args(self, database=None, **extra):
        """Connection options for the kubernaut.devinfra.postgres_* modules."""
        out = dict(host=self.host, port=self.port, user=self.user, password=self.password,
                   database=database or self.database)
        out.update(extra)
        return out

    def connect(self, database=None, application_name="devinfra-tests"):
        import psycopg2
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                dbname=database or self.database, application_name=application_name)
        conn.autocommit = True
        return conn

    def query(self, sql, args=None, database=None):
        conn = self.connect(database)
        try:
            cur = conn.cursor()
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def create_database(self, name=None):
        from psycopg2 import sql as pgsql
        name = name or "t_%s" % uuid.uuid4().hex[:10]
        conn = self.connect("postgres")
        try:
            conn.cursor().execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
        finally:
            conn.close()
        return name

    def database_exists(self, name):
        return bool(self.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,), database="postgres"))


def start_postgres_server(user="slm_user", password="test_password", database="action_history"):
    """Start a PostgreSQL+pgvector container on a free port and wait with the collection's predicate."""
    sys.path.insert(0, os.path.join(REPO, ".collections"))
    from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg
    _require_image(POSTGRES_IMAGE)
    port = free_port()
    name = "devinfra-test-pgsrv-%s" % uuid.uuid4().hex[:8]
    run_test_container(name, "-p", "127.0.0.1:%d:5432" % port, "-e", "POSTGRES_USER=" + user,
                       "-e", "POSTGRES_PASSWORD=" + password, "-e", "POSTGRES_DB=" + database, POSTGRES_IMAGE)
    server = PostgresServer(name, port, user=user, password=password, database=database, host="127.0.0.1")
    try:
        pg.wait_for_ready(server.args(connect_timeout=5), timeout=60)
    except Exception:
        server.remove()
        raise
    return server


@pytest.fixture(scope="module")
def postgres_server():
    """A PostgreSQL server for a whole test module (each test should use its own database)."""
    server = start_postgres_server()
    yield server
    server.remove()


@pytest.fixture
def postgres_db(postgres_server):
    """A fresh, empty database on the module's server; returns its name."""
    return postgres_server.create_database()
