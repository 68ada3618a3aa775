# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""What to look at when a bootstrap fails: our containers' inspect output and
last log lines, PostgreSQL's activity and migration history.
Everything passes through ``redact`` before it leaves the module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
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
    out = podman.run(["ps", "-a", "--format", "json", "--filter", "label=%s=%s" % (INSTANCE_LABEL, instance)])[1]
    return [c for c in json.loads(out or "[]") if is_owned(c.get("Labels"), instance)]


def collect(podman, instance, secrets, postgres=None, log_lines=200):
    """{file name: redacted text} for the diagnostics folder."""
    files = {}
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
