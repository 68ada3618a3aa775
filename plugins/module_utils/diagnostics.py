# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""What to look at when a bootstrap fails: our containers' inspect output and
last log lines, PostgreSQL's activity and migration history, and kind's own
log export (node inspect output, kubelet, containerd and journal logs).
Everything passes through ``redact`` before it leaves the module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.kubernaut.devinfra.plugins.module_utils.podman import INSTANCE_LABEL, is_owned

REDACTED = "<redacted>"
SECRET_KEY = re.compile(r"((?:[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|PASS)[A-Z0-9_]*)=)([^\s\"',]+)", re.I)
URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]+)(@)")


def redact(text, secrets):
    """Remove known secret values, KEY=value secrets and passwords in URLs."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = SECRET_KEY.sub(lambda m: m.group(1) + REDACTED, text)
    return URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)


def our_containers(podman, instance):
    listed = podman.list_labelled("containers", "%s=%s" % (INSTANCE_LABEL, instance))
    return [c for c in listed if is_owned(c.get("Labels"), instance)]


def collect(podman, instance, secrets, postgres=None, log_lines=200, kind=None):
    """{file name: redacted text} for the diagnostics folder.

    ``kind`` is None or (KindCLI, cluster name, export directory on the target)."""
    files = {}
    if kind is not None:
        files.update(collect_kind(kind[0], kind[1], kind[2], log_lines))
    containers = our_containers(podman, instance)
    files["containers.json"] = json.dumps(containers, indent=2, sort_keys=True)
    for c in containers:
        name = (c.get("Names") or ["unknown"])[0]
        rc, out, err = podman.run(["inspect", name], check=False)
        files["%s.inspect.json" % name] = out if rc == 0 else err
        rc, out, err = podman.run(["logs", "--tail", str(log_lines), name], check=False)
        files["%s.log" % name] = (out or "") + (err or "")
    if postgres and postgres.get("container") in [(c.get("Names") or [None])[0] for c in containers]:
        queries = {
            "pg_stat_activity.txt": "SELECT pid, usename, application_name, state, wait_event_type, "
                                    "left(query, 200) AS query FROM pg_stat_activity",
            "migration_history.txt": "SELECT * FROM %s ORDER BY version" % postgres.get(
                "history_table", "devinfra_schema_migrations"),
        }
        for fname, sql in queries.items():
            rc, out, err = podman.run(["exec", postgres["container"], "psql", "-U", postgres["user"],
                                       "-d", postgres["database"], "-c", sql], check=False)
            files[fname] = out if rc == 0 else (err or out)
    return dict((k, redact(v or "", secrets)) for k, v in files.items())


# kind export logs writes, per node, inspect output and journal-derived logs
# (and whole pods/ and containers/ trees, left on the target: too many files).
KIND_LOG_SUFFIXES = (".log", ".txt", ".json")
KIND_SKIP_DIRS = ("pods", "containers")


def _tail(path, lines):
    with open(path, "rb") as fh:
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:]) + "\n"


def collect_kind(cli, name, dest, log_lines=200, max_files=40):
    """{"kind/<path>": text}: what `kind export logs` wrote to ``dest`` on the target, last lines of each file.

    The export itself stays in ``dest`` for whoever needs the rest; not redacted here (``collect`` does it)."""
    ok, detail = cli.export_logs(name, dest)
    files = {"kind/export.txt": "kind export logs --name %s -> %s: %s\n" % (
        name, dest, ("ok, full export on the target in " + detail) if ok else ("failed: " + detail))}
    if not ok or not os.path.isdir(dest):
        return files
    picked = []
    for dirpath, dirnames, filenames in os.walk(dest):
        # The export's top level and one directory per node; nothing deeper.
        dirnames[:] = sorted(d for d in dirnames if d not in KIND_SKIP_DIRS) if dirpath == dest else []
        picked.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(KIND_LOG_SUFFIXES))
    for path in picked[:max_files]:
        files["kind/" + os.path.relpath(path, dest)] = _tail(path, log_lines)
    if len(picked) > max_files:
        files["kind/export.txt"] += "%d more files left on the target.\n" % (len(picked) - max_files)
    return files
