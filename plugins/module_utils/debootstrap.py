# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""The debootstrap backend: a Debian root filesystem turned into a Podman base
image, for hosts where no registry answers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import tempfile

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils.podman import (
    BUILT_BY_LABEL, INPUTS_HASH_LABEL, MANAGED_BY)


# Bumped when what the module adds around debootstrap changes (labels), so
# images made by an older revision are rebuilt.
BUILD_REVISION = 2


def inputs_hash(suite, variant, mirror, include):
    """Hash of everything that decides what debootstrap produces."""
    doc = json.dumps({"suite": suite, "variant": variant, "mirror": mirror,
                      "include": sorted(include or []), "revision": BUILD_REVISION}, sort_keys=True)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def debootstrap_argv(binary, suite, target, variant, mirror, include):
    argv = [binary, "--variant=%s" % variant]
    if include:
        argv.append("--include=%s" % ",".join(include))
    return argv + [suite, target, mirror]


def import_argv(archive, name, labels):
    argv = ["import"]
    for key in sorted(labels):
        argv += ["--change", "LABEL %s=%s" % (key, labels[key])]
    argv += ["--change", 'CMD ["/bin/bash"]']
    return argv + [archive, name]


def plan(existing_labels, wanted_hash, force):
    """'absent', 'stale' (different inputs), 'current'; what to do follows."""
    if existing_labels is None:
        return "absent"
    if force or existing_labels.get(INPUTS_HASH_LABEL) != wanted_hash:
        return "stale"
    return "current"


def build_base_image(module, podman, name, suite, variant, mirror, include, labels, workdir=None):
    """debootstrap into a scratch directory, tar it, `podman import` it."""
    if os.geteuid() != 0:
        raise DevinfraError(
            "Building the Debian base image %s needs root (debootstrap creates device nodes "
            "and sets ownership)." % name,
            hint="Run the play with become: true, or use devinfra_image_source: pull where a "
                 "registry answers.")
    binary = module.get_bin_path("debootstrap")
    if not binary:
        raise DevinfraError(
            "debootstrap is not installed on the target host; it is needed to build %s." % name,
            hint="Install it (apt-get install debootstrap) or let the podman_host role do it.")
    tar = module.get_bin_path("tar", required=True)
    scratch = tempfile.mkdtemp(prefix="devinfra-debootstrap-", dir=workdir)
    try:
        rootfs = os.path.join(scratch, "rootfs")
        rc, out, err = module.run_command(debootstrap_argv(binary, suite, rootfs, variant, mirror, include))
        if rc != 0:
            log = os.path.join(rootfs, "debootstrap", "debootstrap.log")
            tail = ""
            if os.path.exists(log):
                with open(log) as fh:
                    tail = "".join(fh.readlines()[-15:])
            raise DevinfraError(
                "debootstrap %s from %s failed (rc=%d): %s %s" % (suite, mirror, rc, (err or out).strip()[-800:], tail),
                hint="Check that the mirror answers from the target host (or set "
                     "devinfra_debian_mirror to one that does).")
        archive = os.path.join(scratch, "rootfs.tar")
        rc, out, err = module.run_command([tar, "-C", rootfs, "--numeric-owner", "-cf", archive, "."])
        if rc != 0:
            raise DevinfraError("Could not archive the debootstrapped tree: %s" % (err or out).strip())
        all_labels = dict(labels)
        all_labels[BUILT_BY_LABEL] = MANAGED_BY
        podman.run(import_argv(archive, name, all_labels))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
