# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""The bootstrap stamp: what a successful bootstrap saw, so the next run can
prove in one step that nothing it would do is needed.

A stamp holds three things, all without secrets:

* the digest of every input the bootstrap was run with (the role and playbook
  variables the user set, and the content of the collection and migrations);
* the digests of the manifest files test suites read;
* what ``instance_observe`` saw on the target: container IDs and state, the
  migration history of the application database and of each suite database,
  installed extensions, the Redis suite index file.

The fast path is taken only when all three still match and the services answer
now. Everything here is pure (files in, values out); the action plugin
``bootstrap_stamp`` reads and writes the stamp and runs ``instance_observe``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re

STAMP_FORMAT = 1
STAMP_PREFIX = ".bootstrap-stamp-"
# The parts of a collection whose content decides what a bootstrap does.
COLLECTION_PARTS = ("roles", "plugins", "playbooks", "migrations", "meta")
_SKIP_DIRS = frozenset(("__pycache__", ".pytest_cache"))


def stamp_name(inventory_hostname):
    """File name of the stamp for one inventory host, safe for any host name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", inventory_hostname or "localhost")
    return "%s%s.json" % (STAMP_PREFIX, safe)


def _walk_files(root):
    if os.path.isfile(root):
        yield "", root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, name)
            yield os.path.relpath(full, root), full


def tree_digest(paths):
    """sha256 over the names and contents of every file under ``paths``.

    A path that does not exist counts as such (its name, marked missing), so
    creating it later changes the digest."""
    digest = hashlib.sha256()
    for top in paths:
        digest.update(("\0root\0%s\0" % top).encode("utf-8"))
        if not os.path.exists(top):
            digest.update(b"\0missing\0")
            continue
        for rel, full in _walk_files(top):
            digest.update(("\0file\0%s\0" % rel).encode("utf-8"))
            with open(full, "rb") as fh:
                digest.update(hashlib.sha256(fh.read()).digest())
    return digest.hexdigest()


def collection_paths(collection_root):
    return [os.path.join(collection_root, part) for part in COLLECTION_PARTS
            if os.path.exists(os.path.join(collection_root, part))]


def inputs_digest(inputs, trees_digest):
    """One digest for the variables (any JSON-able value) and the file trees."""
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((blob + "\0" + trees_digest).encode("utf-8")).hexdigest()


def file_digests(directory, skip_prefix=STAMP_PREFIX):
    """{relative path: sha256} of the files under ``directory`` (stamps left out)."""
    found = {}
    if not os.path.isdir(directory):
        return found
    for rel, full in _walk_files(directory):
        if os.path.basename(rel).startswith(skip_prefix):
            continue
        with open(full, "rb") as fh:
            found[rel] = hashlib.sha256(fh.read()).hexdigest()
    return found


def load_stamp(path):
    """The stamp at ``path``, or None when it is missing or unreadable (then the full path runs)."""
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != STAMP_FORMAT:
        return None
    return doc


def render_stamp(doc):
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def make_stamp(inputs_digest_value, observe, observed, manifest):
    return {
        "format": STAMP_FORMAT,
        "inputs_digest": inputs_digest_value,
        "observe": observe,
        "observed": observed,
        "manifest": manifest,
    }


_WHAT = {
    "history": "the migration history",
    "suite_databases": "the suite databases",
    "extensions": "the installed extensions",
    "suites_file": "the suite index file",
}


def _container_problem(name, now):
    if now is None:
        return "container %s is gone" % name
    if not now.get("running"):
        return "container %s is not running" % name
    if not now.get("owned"):
        return "container %s does not carry this instance's labels" % name
    return None


def _service_problem(name, now):
    if now is not None and not now.get("ready"):
        return "%s does not answer: %s" % (name, now.get("error") or "not ready")
    return None


def health_problems(observed):
    """What is wrong with the instance as observed, whatever the stamp says: a
    container gone, stopped or unlabelled, a service that does not answer."""
    problems = [_container_problem(n, c) for n, c in sorted((observed.get("containers") or {}).items())]
    problems += [_service_problem(s, observed.get(s)) for s in ("postgres", "redis")]
    return [p for p in problems if p]


def stale_reasons(stamp, digest_now, manifest_now, observed_now=None):
    """Why the full bootstrap must run; an empty list means the stamp still holds.

    ``observed_now`` is None when observing was not attempted (an earlier
    reason already decided)."""
    if stamp is None:
        return ["no bootstrap stamp (first run, after cleanup, or written by another version)"]
    reasons = []
    if stamp.get("inputs_digest") != digest_now:
        reasons.append("the inputs changed since the last bootstrap (variables, collection files or migrations)")
    old_manifest = stamp.get("manifest") or {}
    if old_manifest != manifest_now:
        changed = sorted(k for k in set(old_manifest) | set(manifest_now)
                         if old_manifest.get(k) != manifest_now.get(k))
        reasons.append("the connection manifest differs from what the last bootstrap wrote: %s" % ", ".join(changed))
    if observed_now is None:
        return reasons
    before = stamp.get("observed") or {}
    for name, now in sorted((observed_now.get("containers") or {}).items()):
        problem = _container_problem(name, now)
        then = (before.get("containers") or {}).get(name)
        if problem:
            reasons.append(problem)
        elif then is None or then.get("id") != now.get("id"):
            reasons.append("container %s was replaced since the last bootstrap" % name)
    for service in ("postgres", "redis"):
        now = observed_now.get(service)
        problem = _service_problem(service, now)
        if problem or now is None:
            reasons += [problem] if problem else []
            continue
        then = before.get(service) or {}
        for key in sorted(k for k in now if k not in ("ready", "error", "version")):
            if then.get(key) != now.get(key):
                reasons.append("%s: %s changed since the last bootstrap"
                               % (service, _WHAT.get(key, key.replace("_", " "))))
    return reasons
