#!/usr/bin/env python
"""Fail in seconds, with the exact fix, when the infrastructure a suite needs is down.

DD-008's failure mode was 91 tests each failing with "connection refused".
Run this first (make test-integration-dev): it reads only the connection
manifest and tries each service once, with a short timeout.
"""

import argparse
import json
import os
import socket
import sys


def manifest_path(instance, base):
    return os.path.join(base, instance, "connection.json")


def check_postgres(pg):
    import psycopg2
    try:
        conn = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"],
                                dbname=pg["database"], connect_timeout=3)
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure is reported the same way
        return str(exc).strip().splitlines()[0]


def check_redis(rd):
    import redis
    try:
        redis.Redis(host=rd["host"], port=rd["port"], password=rd.get("password"),
                    socket_connect_timeout=3, socket_timeout=3).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default=os.environ.get("DEVINFRA_INSTANCE", "dev"))
    parser.add_argument("--dir", default=os.environ.get("DEVINFRA_MANIFEST_DIR", ".devinfra"))
    args = parser.parse_args(argv)
    suffix = "" if args.instance == "dev" else " INSTANCE=%s" % args.instance
    path = manifest_path(args.instance, args.dir)
    if not os.path.exists(path):
        print("No connection manifest at %s: the infrastructure was never bootstrapped here.\n"
              "Fix: make bootstrap-dev%s" % (path, suffix))
        return 2
    with open(path) as fh:
        manifest = json.load(fh)
    problems = []
    if "postgres" in manifest:
        err = check_postgres(manifest["postgres"])
        if err:
            problems.append("PostgreSQL %s:%s unavailable (%s).\n  Fix: podman start %s, or make bootstrap-dev%s"
                            % (manifest["postgres"]["host"], manifest["postgres"]["port"], err,
                               manifest["postgres"].get("container") or "datastorage-postgres", suffix))
    if "redis" in manifest:
        err = check_redis(manifest["redis"])
        if err:
            problems.append("Redis %s:%s unavailable (%s).\n  Fix: podman start %s, or make bootstrap-dev%s"
                            % (manifest["redis"]["host"], manifest["redis"]["port"], err,
                               manifest["redis"].get("container") or "redis-context-api", suffix))
    if problems:
        print("\n".join(problems))
        return 1
    print("instance %s: all services answer (%s)" % (
        args.instance, ", ".join(k for k in ("postgres", "redis", "kind") if k in manifest)))
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(5)
    sys.exit(main())
