# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""Write a small set of files in one go: compare, write atomically, prune.

The connection manifest is several files (connection.json, env, one env file
per suite); writing them with one module call instead of a task per file
saves a second or two of every bootstrap."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError


def plan_files(root, files, prune, mode, read=None, listdir=None):
    """(writes, removals): relative names to (re)write and stale files to remove.

    ``prune`` lists subdirectories whose files not in ``files`` are stale.
    """
    read = read or _read
    listdir = listdir or _listdir
    writes = []
    for name in sorted(files):
        path = os.path.join(root, name)
        current = read(path)
        if current is None or current[0] != files[name] or current[1] != mode:
            writes.append(name)
    removals = []
    for sub in prune:
        for entry in sorted(listdir(os.path.join(root, sub))):
            name = os.path.join(sub, entry)
            if name not in files:
                removals.append(name)
    return writes, removals


def plan_existing(root, name):
    """Whether ``name`` exists under ``root`` now (for the diff's before side)."""
    return os.path.isfile(os.path.join(root, name))


def _read(path):
    try:
        with open(path) as fh:
            return fh.read(), os.stat(path).st_mode & 0o7777
    except (IOError, OSError):
        return None


def _listdir(path):
    try:
        return [e for e in os.listdir(path) if os.path.isfile(os.path.join(path, e))]
    except OSError:
        return []


def apply_files(root, files, writes, removals, mode, dir_mode=0o700):
    for name in writes:
        path = os.path.join(root, name)
        parent = os.path.dirname(path)
        try:
            if not os.path.isdir(parent):
                os.makedirs(parent, dir_mode)
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-")
            with os.fdopen(fd, "w") as fh:
                fh.write(files[name])
            os.chmod(tmp, mode)
            os.rename(tmp, path)
        except (IOError, OSError) as exc:
            raise DevinfraError("Could not write %s: %s" % (path, exc),
                                hint="Check that the directory is writable by the user running the playbook.")
    for name in removals:
        os.unlink(os.path.join(root, name))


def write_private_file(path, content):
    """Atomically replace ``path`` with ``content``, mode 0600. True if it changed."""
    try:
        with open(path) as fh:
            if fh.read() == content:
                if os.stat(path).st_mode & 0o777 == 0o600:
                    return False
                os.chmod(path, 0o600)
                return True
    except (IOError, OSError):
        pass
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True
