"""Shared helpers for the benchmarks: timing, tables, podman, the machine.

The benchmarks are scripts, not tests: each one returns a markdown section
(a table of raw medians and ratios against a baseline measured in the same
process, A/B interleaved) that run.py prints and writes to results/latest.md.
"""

import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
VENV_BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(REPO, ".collections")
if COLLECTIONS not in sys.path:
    # module_utils are imported as the collection, exactly as the modules do.
    sys.path.insert(0, COLLECTIONS)

POSTGRES_IMAGE = os.environ.get("DEVINFRA_BENCH_POSTGRES_IMAGE", "localhost/kubernaut-devinfra/postgres-pgvector:17")
REDIS_IMAGE = os.environ.get("DEVINFRA_BENCH_REDIS_IMAGE", "localhost/kubernaut-devinfra/redis:7")
BENCH_LABEL = "io.kubernaut.devinfra.bench=1"
PG_USER = "slm_user"
PG_PASSWORD = "slm_password_dev"
PG_DATABASE = "action_history"


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_s(seconds):
    if math.isnan(seconds):
        return "n/a"
    if seconds < 1:
        return "%.0f ms" % (seconds * 1000)
    return "%.2f s" % seconds


def fmt_ratio(x):
    return "n/a" if math.isnan(x) else "%.2f×" % x


def verdict(ok):
    return "met" if ok else "**missed**"


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for header in headers) + "|"]
    for row in rows:
        out.append("| " + " | ".join("%s" % c for c in row) + " |")
    return "\n".join(out)


def timed(fn, *args, **kwargs):
    start = time.monotonic()
    value = fn(*args, **kwargs)
    return time.monotonic() - start, value


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(argv, check=True, env=None, timeout=900, **kwargs):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (rc=%d):\n%s\n%s" % (
            " ".join(argv), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def podman(*args, check=True, env=None):
    return run(["podman"] + list(args), check=check, env=env)


def remove_container(name, env=None):
    """Remove exactly one container we started, with its anonymous volumes."""
    podman("rm", "-f", "-v", "--time", "0", name, check=False, env=env)


def ansible_env(**extra):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra)
    return env


def ansible_playbook(playbook, extra_vars=None, env=None, json_output=False, timeout=1800):
    """Run ansible-playbook from the repo root; returns (wall seconds, proc, parsed json or None)."""
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), playbook]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    extra = dict(env or {})
    if json_output:
        extra["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=ansible_env(**extra), capture_output=True, text=True,
                          timeout=timeout, check=False)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError("ansible-playbook %s failed (rc=%d):\n%s\n%s"
                           % (playbook, proc.returncode, proc.stdout[-4000:], proc.stderr[-2000:]))
    data = None
    if json_output:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return wall, proc, data


def task_durations(data):
    """(task name, seconds) for every task of a json-callback run, in order."""
    out = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            dur = task["task"].get("duration", {})
            if dur.get("start") and dur.get("end"):
                out.append((task["task"]["name"], _iso_seconds(dur["end"]) - _iso_seconds(dur["start"])))
    return out


def _iso_seconds(stamp):
    from datetime import datetime
    return datetime.strptime(stamp.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def machine_description():
    def first_line(argv):
        try:
            return run(argv, check=False).stdout.strip().splitlines()[0]
        except Exception:  # pylint: disable=broad-except
            return "unknown"
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1024.0 / 1024.0)
    except (OSError, ValueError, IndexError):
        pass
    rows = [
        ("nproc", "%s" % os.cpu_count()),
        ("memory", mem),
        ("CPU", cpu),
        ("kernel", platform.release()),
        ("OS", first_line(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""])),
        ("podman", first_line(["podman", "--version"])),
        ("python", platform.python_version()),
        ("ansible-core", first_line([os.path.join(VENV_BIN, "ansible"), "--version"])),
        ("load average at start", "%.2f %.2f %.2f" % os.getloadavg()),
    ]
    return table(["", ""], rows)


def start_postgres(name, port, env=None):
    """A throwaway PostgreSQL+pgvector container for the library-level benchmarks."""
    remove_container(name, env=env)
    podman("run", "-d", "--name", name, "--label", BENCH_LABEL, "-p", "127.0.0.1:%d:5432" % port,
           "-e", "POSTGRES_USER=" + PG_USER, "-e", "POSTGRES_PASSWORD=" + PG_PASSWORD,
           "-e", "POSTGRES_DB=" + PG_DATABASE, POSTGRES_IMAGE, env=env)


def pg_params(port, database=PG_DATABASE):
    return dict(host="127.0.0.1", port=port, user=PG_USER, password=PG_PASSWORD, database=database,
                connect_timeout=5)


def wait_postgres(port, timeout=120):
    from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg
    return pg.wait_for_ready(pg_params(port), timeout=timeout)
