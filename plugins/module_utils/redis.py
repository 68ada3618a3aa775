# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""Everything the collection does with Redis: connect, prove ready, assign suites.

Modules stay thin: they build their argument spec from ``redis_argument_spec``
and call one function here. Library code raises ``DevinfraError`` only.

Two halves:

* readiness (``wait_for_redis``): TCP connect, AUTH, PING answering PONG (not
  ``-LOADING``), and a SET/GET/DEL round trip on a scratch key (``-MISCONF``
  means "not ready"), polled with ``wait.wait_until``;
* suite database indexes (``plan_suite_indexes`` and friends): pure functions
  that give every suite a stable index, stored in a JSON file on the target.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import tempfile
import traceback
import uuid

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils.wait import NotReady, wait_until

REDIS_IMPORT_ERROR = None
try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    HAS_REDIS = True
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = traceback.format_exc()

# Keys the readiness probe writes; they expire on their own if DEL never runs.
SCRATCH_KEY_PREFIX = "kubernaut-devinfra:ready:"
SCRATCH_TTL_MS = 30000

STATE_FORMAT = 1
SUITE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def redis_argument_spec(with_db=True):
    """Connection options shared by every Redis module (doc fragment kubernaut.devinfra.redis)."""
    spec = dict(
        host=dict(type="str", default="127.0.0.1"),
        port=dict(type="int", default=6379),
        password=dict(type="str", no_log=True),
        connect_timeout=dict(type="float", default=5.0),
    )
    if with_db:
        spec["db"] = dict(type="int", default=0)
    return spec


def describe_endpoint(params):
    return "Redis at %s:%s" % (params["host"], params["port"])


def connect(params, db=None):
    """One client on one connection, with redis-py's own retries switched off.

    redis-py retries ConnectionError (and BusyLoadingError is one) by default;
    the wait loop must see every "not yet" itself, so retries are disabled.
    """
    timeout = params.get("connect_timeout") or 5.0
    return redis.Redis(
        host=params["host"],
        port=params["port"],
        password=params.get("password") or None,
        db=params.get("db", 0) if db is None else db,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=True,
        decode_responses=True,
    )


def _auth_error(params, exc):
    if params.get("password"):
        what = "rejected the password"
        hint = "Pass the password the server was started with (redis_password)."
    else:
        what = "requires a password"
        hint = "Pass password (redis_password) for this server."
    return DevinfraError(
        "Checking that %s is ready: the server %s (%s)." % (describe_endpoint(params), what, exc),
        hint=hint)


def probe_ready(params):
    """One readiness attempt. Returns server facts, raises NotReady or DevinfraError.

    Permanent failures (wrong password, protected mode) raise DevinfraError at
    once: waiting would not change them.
    """
    endpoint = describe_endpoint(params)
    client = None
    try:
        try:
            # single_connection_client connects (and AUTHs) right here.
            client = connect(params)
            pong = client.ping()
            if pong is not True:
                raise NotReady("PING answered %r instead of PONG" % (pong,))
            key = SCRATCH_KEY_PREFIX + uuid.uuid4().hex
            token = uuid.uuid4().hex
            client.set(key, token, px=SCRATCH_TTL_MS)
            got = client.get(key)
            client.delete(key)
            if got != token:
                raise NotReady("SET/GET round trip on %s returned %r" % (key, got))
            info = client.info()
            try:
                databases = int(client.config_get("databases").get("databases"))
            except (redis.exceptions.ResponseError, TypeError, ValueError):
                databases = None  # CONFIG renamed or disabled: report what we can
        except redis.exceptions.AuthenticationError as exc:
            raise _auth_error(params, exc)
        except redis.exceptions.BusyLoadingError as exc:
            raise NotReady("LOADING %s" % (exc,))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise NotReady("cannot talk to %s: %s" % (endpoint, exc))
        except redis.exceptions.ResponseError as exc:
            text = "%s" % (exc,)
            if text.startswith("DENIED"):
                raise DevinfraError(
                    "Checking that %s is ready: the server refused this client (%s)." % (endpoint, text),
                    hint="Protected mode refuses password-less clients that are not on loopback; "
                         "set a password or connect from loopback.")
            if "NOAUTH" in text or "WRONGPASS" in text or "without any password configured" in text:
                raise _auth_error(params, exc)
            # MISCONF (cannot persist), READONLY (a replica) and the like: up but not usable yet.
            raise NotReady(text)
    finally:
        if client is not None:
            client.close()
    return {
        "version": info.get("redis_version"),
        "role": info.get("role"),
        "databases": databases,
    }


def observe(params, suites_file=None):
    """A read-only look at the server, for the bootstrap stamp: ready (PING answered
    after AUTH), error when not, and the digest of the suite index file (None when absent)."""
    result = dict(ready=False)
    client = None
    try:
        client = connect(params)
        result["ready"] = client.ping() is True
        if not result["ready"]:
            result["error"] = "PING did not answer PONG"
    except redis.exceptions.RedisError as exc:
        result["error"] = "%s: %s" % (describe_endpoint(params), exc)
    finally:
        if client is not None:
            client.close()
    digest = None
    if suites_file and os.path.exists(suites_file):
        with open(suites_file, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
    result["suites_file"] = digest
    return result


def wait_for_redis(params, wait_timeout, wait_interval, clock=None, sleep=None):
    """Poll ``probe_ready`` until it succeeds; return the module result (without changed)."""
    seen = {"last": None}

    def probe():
        try:
            return probe_ready(params)
        except NotReady as exc:
            seen["last"] = "%s" % (exc,)
            raise

    kwargs = {}
    if clock is not None:
        kwargs["clock"] = clock
    if sleep is not None:
        kwargs["sleep"] = sleep
    res = wait_until(
        probe, wait_timeout, describe_endpoint(params), interval=wait_interval,
        hint="Check that the container runs (podman ps -a; podman logs <name>) and publishes this port.",
        **kwargs)
    result = dict(res.value)
    result.update(ready=True, elapsed_ms=res.elapsed_ms, attempts=res.attempts, last_error=seen["last"])
    return result


# ---------------------------------------------------------------------------
# Suite database indexes


class SuitePlan(object):
    """The outcome of assigning indexes: the new mapping and how it differs."""

    def __init__(self, before, after, added, released, moved):
        self.before = before
        self.after = after
        self.added = added
        self.released = released
        self.moved = moved

    @property
    def changed(self):
        return self.before != self.after


def usable_indexes(databases, reserve_index_zero):
    return list(range(1 if reserve_index_zero else 0, databases))


def validate_suites(suites, databases, reserve_index_zero):
    """Reject what can never be assigned, before anything is created."""
    if not isinstance(databases, int) or isinstance(databases, bool) or databases < 1:
        raise DevinfraError(
            "Assigning Redis database indexes: databases must be a whole number of at least 1, got %r."
            % (databases,),
            hint="Set redis_databases to the number of databases the server has (16 by default).")
    bad = [s for s in suites if not isinstance(s, str) or not SUITE_NAME_RE.match(s)]
    if bad:
        raise DevinfraError(
            "Assigning Redis database indexes: invalid suite names %s." % (", ".join(repr(b) for b in bad),),
            hint="Suite names start with a letter or digit and use only letters, digits, '_', '.' and '-'.")
    seen, dups = set(), []
    for name in suites:
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    if dups:
        raise DevinfraError(
            "Assigning Redis database indexes: duplicate suite names %s." % (", ".join(dups),),
            hint="List each suite once in redis_suites.")
    usable = usable_indexes(databases, reserve_index_zero)
    if len(suites) > len(usable):
        raise DevinfraError(
            "Assigning Redis database indexes: %d suites need %d databases but the server has %d "
            "(%d usable%s)." % (len(suites), len(suites), databases, len(usable),
                                ", index 0 is reserved" if reserve_index_zero else ""),
            hint="Raise redis_databases to at least %d, or list fewer suites%s."
            % (len(suites) + (1 if reserve_index_zero else 0),
               ", or set redis_reserve_index_zero: false" if reserve_index_zero else ""))


def plan_suite_indexes(existing, suites, databases, reserve_index_zero=True):
    """Give every suite an index; keep every index that is still valid.

    ``existing`` maps suite name -> index as stored by the previous run. A suite
    keeps its index as long as it is listed and the index still exists (and is
    not a now-reserved 0). New suites, and suites whose index became invalid,
    get the lowest free index in list order. Suites no longer listed release
    their index.
    """
    validate_suites(suites, databases, reserve_index_zero)
    usable = usable_indexes(databases, reserve_index_zero)
    usable_set = set(usable)
    listed = set(suites)
    after, taken = {}, set()
    for name in suites:
        index = existing.get(name)
        if index in usable_set and index not in taken:
            after[name] = index
            taken.add(index)
    free = [i for i in usable if i not in taken]
    added, moved = [], []
    for name in suites:
        if name in after:
            continue
        after[name] = free.pop(0)
        (moved if name in existing else added).append(name)
    released = sorted(n for n in existing if n not in listed)
    return SuitePlan(dict(existing), after, added, released, moved)


def normalize_reset(reset, suites):
    """``reset`` is false/true or a list of suite names; return the names to flush."""
    if reset is None or reset is False:
        return []
    if reset is True:
        return list(suites)
    if isinstance(reset, str):
        raise DevinfraError(
            "Assigning Redis database indexes: reset must be true, false or a list of suite names, got %r."
            % (reset,))
    names = list(reset)
    unknown = [n for n in names if n not in suites]
    if unknown:
        raise DevinfraError(
            "Resetting Redis suites: %s %s not in the suite list (%s)."
            % (", ".join(unknown), "is" if len(unknown) == 1 else "are", ", ".join(suites) or "empty"),
            hint="Reset only suites listed in redis_suites.")
    # Keep the suite list's order, once each.
    return [n for n in suites if n in names]


def load_suite_state(path):
    """Read the stored assignment; a missing file is an empty one."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (IOError, OSError, ValueError) as exc:
        raise DevinfraError(
            "Reading the Redis suite index file %s failed: %s." % (path, exc),
            hint="Fix or remove the file; removing it renumbers every suite.")
    suites = data.get("suites") if isinstance(data, dict) else None
    if not isinstance(suites, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in suites.items()):
        raise DevinfraError(
            "Reading the Redis suite index file %s failed: it is not a {\"suites\": {name: index}} document."
            % (path,),
            hint="Fix or remove the file; removing it renumbers every suite.")
    return dict(suites)


def render_suite_state(assignment):
    return json.dumps({"format": STATE_FORMAT, "suites": assignment}, indent=2, sort_keys=True) + "\n"


def flush_commands(assignment, names):
    """The commands a reset runs, in the result vocabulary's ``executed`` form."""
    return ["SELECT %d; FLUSHDB" % (assignment[n],) for n in names]


def flush_suite_indexes(params, assignment, names, databases):
    """FLUSHDB on each named suite's index, never FLUSHALL."""
    if not names:
        return
    client = None
    try:
        client = connect(params, db=0)
        try:
            server_dbs = int(client.config_get("databases").get("databases"))
        except (redis.exceptions.ResponseError, TypeError, ValueError):
            server_dbs = None
        if server_dbs is not None and server_dbs != databases:
            raise DevinfraError(
                "Resetting Redis suites on %s: the server has %d databases, the assignment was made for %d."
                % (describe_endpoint(params), server_dbs, databases),
                hint="Pass databases equal to the server's (redis_databases) so indexes mean the same thing.")
        for name in names:
            client.execute_command("SELECT", assignment[name])
            client.flushdb()
    except redis.exceptions.RedisError as exc:
        raise DevinfraError(
            "Resetting Redis suites on %s failed: %s." % (describe_endpoint(params), exc),
            hint="Check that Redis is ready (kubernaut.devinfra.redis_ready) and the password is right.")
    finally:
        if client is not None:
            client.close()


def server_databases(params):
    """CONFIG GET databases, for callers that did not say how many there are."""
    client = None
    try:
        client = connect(params, db=0)
        return int(client.config_get("databases").get("databases"))
    except (redis.exceptions.RedisError, TypeError, ValueError) as exc:
        raise DevinfraError(
            "Asking %s how many databases it has failed: %s." % (describe_endpoint(params), exc),
            hint="Pass databases explicitly, or check the connection options.")
    finally:
        if client is not None:
            client.close()


def write_suite_state(module, path, assignment):
    """Atomically replace the assignment file (mode 0600)."""
    directory = os.path.dirname(path) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=".redis-suite-indexes.", dir=directory)
        with os.fdopen(fd, "w") as fh:
            fh.write(render_suite_state(assignment))
        os.chmod(tmp, 0o600)
    except (IOError, OSError) as exc:
        raise DevinfraError(
            "Writing the Redis suite index file %s failed: %s." % (path, exc),
            hint="The directory must exist and be writable (the redis role creates the instance's state dir).")
    module.atomic_move(tmp, path)
    # atomic_move gives a new file the umask's mode; the file is ours alone.
    os.chmod(path, 0o600)


def _reset_from_params(module):
    reset = module.params["reset"]
    if isinstance(reset, str):
        try:
            reset = module.boolean(reset)
        except TypeError:
            pass  # normalize_reset names the bad value
    return normalize_reset(reset, module.params["suites"])


def reset_needs_server(module):
    """Whether this run talks to Redis at all (to count databases or to flush)."""
    p = module.params
    return p["databases"] is None or (bool(_reset_from_params(module)) and not module.check_mode)


def ensure_suite_indexes(module):
    """The redis_suite_indexes module: plan, write the file, flush the reset suites."""
    p = module.params
    names = _reset_from_params(module)
    databases = p["databases"] if p["databases"] is not None else server_databases(p)
    plan = plan_suite_indexes(load_suite_state(p["path"]), p["suites"], databases, p["reserve_index_zero"])
    if not module.check_mode:
        if plan.changed:
            write_suite_state(module, p["path"], plan.after)
        flush_suite_indexes(p, plan.after, names, databases)
    result = dict(
        changed=plan.changed or bool(names),
        suites=plan.after, added=plan.added, moved=plan.moved, released=plan.released,
        reset=names, executed=flush_commands(plan.after, names), databases=databases, path=p["path"],
    )
    if module._diff and plan.changed:
        result["diff"] = dict(before=render_suite_state(plan.before), after=render_suite_state(plan.after),
                              before_header=p["path"], after_header=p["path"])
    return result
