#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: podman_host_config
short_description: Make Podman's defaults start containers on this host, by probing
version_added: 0.1.0
description:
  - Starts a throw-away probe container (a tiny image made from the host's own C(/bin/true), so no
    registry or base image is needed). When Podman's current configuration cannot start it, the module
    recognises the failure and finds settings that work, by starting more probe containers.
  - Known failures - crun on cgroups v1/hybrid hosts ("cgroups in hybrid mode not supported") selects
    runc; hard C(RLIMIT_NOFILE)/C(RLIMIT_NPROC) limits below Podman's default ulimits ("setrlimit ...
    Operation not permitted") lower the default ulimits to the largest value that starts a container.
  - The settings go into a containers.conf drop-in that this module owns
    (C(/etc/containers/containers.conf.d/50-kubernaut-devinfra.conf), or under C(~/.config) for rootless
    Podman). Nothing is written on hosts where Podman works as it is, and a working drop-in is left alone.
author:
  - kubernaut developers (@kubernaut)
requirements:
  - podman
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - Probes run (they start and remove a container, and import the probe image if missing), but no file is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
options:
  state:
    description:
      - C(present) probes and writes the drop-in when needed; C(absent) removes our drop-in.
    type: str
    default: present
    choices: [present, absent]
  dropin_path:
    description: Where the drop-in lives. Defaults to the rootful or rootless location.
    type: path
  rootless:
    description:
      - Whether Podman runs rootless on the target, which decides the default I(dropin_path).
      - Omitted, C(podman info) is asked (about a third of a second); M(kubernaut.devinfra.host_preflight) already
        reports it as C(preflight.podman.rootless).
    type: bool
  cache_path:
    description:
      - A file on the target where the probe's answer is kept, with a digest of what that answer depends on -
        the podman, conmon, runc and crun binaries (path, size, modification time), every containers.conf file
        Podman may read (our drop-in included), the kernel release, the cgroup mode, the hard C(nofile)/C(nproc)
        limits and the user. While the digest matches, no probe container is started (a container start saved
        on every run); when anything in it changes, the module probes again.
      - Omitted or empty, every run probes. Deleting the file is always safe.
      - Not written in check mode. Writing it is not reported as a change; it is a cache, like ports' records.
    type: path
"""

EXAMPLES = r"""
- name: Adapt Podman to this host
  kubernaut.devinfra.podman_host_config:
  register: podman_config

- name: Adapt Podman, probing again only when the host changed
  kubernaut.devinfra.podman_host_config:
    cache_path: ~/.local/state/kubernaut-devinfra/podman-probe.json

- name: Say what was adapted
  ansible.builtin.debug:
    msg: "{{ podman_config.settings }}"
"""

RETURN = r"""
settings:
  description: Settings our drop-in holds after the run (runtime, nofile, nproc); empty when none are needed.
  returned: always
  type: dict
  sample: {runtime: runc, nofile: 20000, nproc: 32768}
dropin_path:
  description: Path of the drop-in.
  returned: always
  type: str
cached:
  description: Whether the answer came from I(cache_path) without starting a probe container.
  returned: when state is present
  type: bool
probes:
  description: Each probe - the settings tried, whether the container started, and its error. Empty when I(cached).
  returned: when state is present
  type: list
  elements: dict
executed:
  description: Files written or removed.
  returned: always
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils import files, host
from ansible_collections.kubernaut.devinfra.plugins.module_utils import podman as podman_utils
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils.podman import (
    PodmanCLI, dropin_path, find_working_settings, parse_dropin, render_dropin, summarize_info)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "absent"]),
            dropin_path=dict(type="path"),
            rootless=dict(type="bool"),
            cache_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    result = dict(changed=False, executed=[], settings={})
    try:
        podman = PodmanCLI(module)
        podman.require()
        rootless = module.params["rootless"]
        if rootless is None and not module.params["dropin_path"]:
            rootless = summarize_info(podman.info())["rootless"]
        path = module.params["dropin_path"] or dropin_path(rootless)
        result["dropin_path"] = path
        before = host.read_text(path, default=None)
        if module.params["state"] == "absent":
            if before is not None:
                result.update(changed=True, executed=["remove %s" % path],
                              diff=dict(before=before, after="", before_header=path, after_header=path))
                if not module.check_mode:
                    os.unlink(path)
            module.exit_json(**result)

        cache_path = module.params["cache_path"]
        if cache_path:
            cached = podman_utils.read_probe_cache(module, cache_path, path)
            if cached is not None:
                result.update(settings=cached, cached=True, probes=[])
                module.exit_json(**result)
        result["cached"] = False
        current = parse_dropin(before or "")
        # Also in check mode: the probe image is our own local artefact, and a
        # truthful plan needs a probe container to start (it is removed at once).
        podman.ensure_probe_image()
        found, probes = find_working_settings(
            podman.probe_run, host.parse_limits(host.read_text("/proc/self/limits")),
            have_runc=bool(module.get_bin_path("runc")), initial=current)
        result["probes"] = probes
        wanted = dict(current, **found)
        after = render_dropin(wanted)
        result["settings"] = wanted
        if after and after != (before or ""):
            result.update(changed=True, executed=["write %s" % path],
                          diff=dict(before=before or "", after=after, before_header=path, after_header=path))
            if not module.check_mode:
                parent = os.path.dirname(path)
                if not os.path.isdir(parent):
                    os.makedirs(parent, 0o755)
                module.atomic_move(_write_temp(module, after), path)
                os.chmod(path, 0o644)
                ok, err = podman.probe_run({})
                if not ok:
                    raise DevinfraError(
                        "Wrote %s, but Podman still cannot start a container with it: %s" % (path, err.strip()),
                        hint="Inspect the file and `podman info`; remove the file to return to Podman's defaults.")
        if cache_path and not module.check_mode:
            # After the drop-in is written: its content is part of the digest.
            try:
                files.write_private_file(cache_path, podman_utils.render_probe_cache(
                    podman_utils.read_probe_fingerprint(module), path, wanted))
            except (IOError, OSError) as exc:
                module.warn("Could not write the probe cache %s (%s); the next run probes again." % (cache_path, exc))
    except DevinfraError as err:
        fail_from_error(module, err, **result)
    module.exit_json(**result)


def _write_temp(module, text):
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return tmp


if __name__ == "__main__":
    main()
