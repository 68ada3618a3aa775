#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_preflight
short_description: Read-only checks that a host can run kubernaut.devinfra's infrastructure
version_added: 0.1.0
description:
  - Gathers the facts that decide whether Podman-based test infrastructure will start on the target host -
    Podman version, rootful or rootless, cgroup version and mode, the OCI runtime in use, hard ulimits,
    free disk in Podman's storage, whether each requested host port is free on its bind address (and who
    holds it), and whether container registries answer.
  - Returns a list of problems, each with a one-line fix. Creates nothing and changes nothing.
author:
  - kubernaut developers (@kubernaut)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The module is read-only; check mode runs the same checks.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
options:
  ports:
    description:
      - Host ports the infrastructure will publish.
      - A port held by the container named in I(container) is expected (a re-run) and not a problem.
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: TCP port, 1-65535.
        type: int
        required: true
      address:
        description: Bind address on the host.
        type: str
        default: 127.0.0.1
      container:
        description: Name of our container that may already hold this port.
        type: str
  instance:
    description:
      - Instance whose containers may already hold the requested ports (a re-run); ports they publish are expected.
    type: str
  registries:
    description: Registries whose C(/v2/) endpoint is probed.
    type: list
    elements: str
    default: [docker.io]
  check_registries:
    description: Whether to probe the registries at all.
    type: bool
    default: true
  registry_timeout:
    description: Seconds to wait for a registry's answer.
    type: float
    default: 3
  min_free_gb:
    description: Free space wanted in Podman's storage, in GB.
    type: float
    default: 2
  require_podman:
    description: Whether a missing podman is a problem.
    type: bool
    default: true
  fail_on_problems:
    description: Fail when any problem is found, listing each with its fix.
    type: bool
    default: false
  probe_cache:
    description:
      - The I(cache_path) of M(kubernaut.devinfra.podman_host_config). Read (never written) and checked against this
        host; the answer is RV(preflight.probe_cache), so that a role can skip the probe module when it still holds.
    type: path
"""

EXAMPLES = r"""
- name: Check the host before creating anything
  kubernaut.devinfra.host_preflight:
    ports:
      - port: 5432
        container: datastorage-postgres
      - port: 6379
        container: redis-context-api
    fail_on_problems: true
  register: preflight

- name: Show the cgroup mode
  ansible.builtin.debug:
    msg: "{{ preflight.preflight.cgroup_mode }}"
"""

RETURN = r"""
preflight:
  description: Facts about the host.
  returned: always
  type: dict
  contains:
    podman:
      description: installed, path, version, rootless, cgroup_version, cgroup_manager, runtime, graph_root.
      type: dict
    cgroup_mode:
      description: C(v1), C(v2) or C(hybrid) (Linux only).
      type: str
    euid:
      description: Effective user id the checks ran as (0 is root).
      type: int
    tools:
      description: Absolute paths of runc, crun, debootstrap, kind and kubectl, or null where missing.
      type: dict
    limits:
      description: Soft and hard C(nofile) and C(nproc) limits (null is unlimited).
      type: dict
    disk:
      description: Podman storage path and its free bytes.
      type: dict
    ports:
      description: One entry per requested port - port, address, free, holder, expected_holder.
      type: list
    container_owners:
      description:
        - Every container on the host by name - its C(Labels) (only kubernaut.devinfra's managed-by and
          instance labels) and C(ImageName). Roles check a name against it before touching a container.
        - Missing when podman is not installed or C(podman info) fails.
      type: dict
      sample: {datastorage-postgres: {Labels: {io.kubernaut.devinfra.managed-by: kubernaut.devinfra,
               io.kubernaut.devinfra.instance: dev}, ImageName: "localhost/kubernaut-devinfra/postgres-pgvector:17-1a2b"}}
    built_images:
      description:
        - Every tag of the images kubernaut.devinfra built on this host (label C(io.kubernaut.devinfra.built-by)).
          M(kubernaut.devinfra.container_images) looks its references up here instead of inspecting each.
        - Missing when podman is not installed or C(podman info) fails.
      type: list
      elements: str
    probe_cache:
      description:
        - Whether M(kubernaut.devinfra.podman_host_config)'s I(cache_path) file still holds for this host (C(valid))
          and its C(settings). Valid, Podman's current configuration is known to start containers here.
      returned: when I(probe_cache) is set and C(podman info) works
      type: dict
      sample: {path: /root/.local/state/kubernaut-devinfra/podman-probe.json, valid: true,
               settings: {runtime: runc, nofile: 20000, nproc: 32768}}
    registries:
      description: One entry per registry - name, reachable, error.
      type: list
    registry_reachable:
      description: Whether any probed registry answered.
      type: bool
    problems:
      description: Each problem as check, message and fix.
      type: list
  sample:
    cgroup_mode: hybrid
    problems:
      - check: port
        message: Port 5432 on 127.0.0.1 is already in use by postgres (pid 812) on 127.0.0.1.
        fix: Stop that process or container, or choose another port for this component.
elapsed_ms:
  description: Time the checks took, in milliseconds.
  returned: always
  type: int
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils.preflight import run_preflight


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ports=dict(type="list", elements="dict", default=[], options=dict(
                port=dict(type="int", required=True),
                address=dict(type="str", default="127.0.0.1"),
                container=dict(type="str"),
            )),
            instance=dict(type="str"),
            registries=dict(type="list", elements="str", default=["docker.io"]),
            check_registries=dict(type="bool", default=True),
            registry_timeout=dict(type="float", default=3),
            min_free_gb=dict(type="float", default=2),
            require_podman=dict(type="bool", default=True),
            fail_on_problems=dict(type="bool", default=False),
            probe_cache=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    started = time.monotonic()
    try:
        facts = run_preflight(module, module.params)
    except DevinfraError as err:
        fail_from_error(module, err, changed=False)
    elapsed_ms = int((time.monotonic() - started) * 1000)
    if module.params["fail_on_problems"] and facts["problems"]:
        module.fail_json(
            msg="Host preflight found %d problem(s): %s" % (
                len(facts["problems"]),
                " | ".join("%s Fix: %s" % (p["message"], p["fix"]) for p in facts["problems"])),
            changed=False, preflight=facts, elapsed_ms=elapsed_ms)
    module.exit_json(changed=False, preflight=facts, elapsed_ms=elapsed_ms)


if __name__ == "__main__":
    main()
