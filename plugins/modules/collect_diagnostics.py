#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: collect_diagnostics
short_description: Gather what to look at when provisioning fails, with secrets redacted
version_added: 0.1.0
description:
  - Collects, for one instance, the C(podman inspect) output and last log lines of every container that
    carries our labels, PostgreSQL's C(pg_stat_activity) and migration history (through C(psql) inside
    the container, so no password is needed).
  - Every text is redacted before it is returned - known secret values, C(KEY=value) pairs whose key names a
    password, secret or token, and passwords inside URLs.
  - Read-only; returns the texts for the caller to write (the diagnostics role writes them on the controller).
author:
  - kubernaut developers (@kubernaut)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Read-only.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
options:
  instance:
    description: Instance whose containers to look at.
    type: str
    required: true
  secrets:
    description: Secret values to redact wherever they appear.
    type: list
    elements: str
    default: []
  postgres:
    description: C({container, user, database, history_table}) of the instance's PostgreSQL, if any.
    type: dict
  log_lines:
    description: How many log lines to keep per container (and per kind log file).
    type: int
    default: 200
  kind:
    description:
      - The instance's kind cluster, if any. C(kind export logs) writes the cluster's logs to I(kind.logs_dir) on
        the target. The last lines of the top-level files and of each node's C(.log), C(.txt) and C(.json) files
        come back as C(kind/<path>); the pods and containers trees stay on the target.
      - Without a kind binary, C(kind/export.txt) says so and nothing else is tried.
    type: dict
    suboptions:
      name:
        description: Cluster name.
        type: str
        required: true
      logs_dir:
        description: Directory on the target for the full export; created by kind.
        type: path
        required: true
      kind_path:
        description: The kind binary; found on PATH when omitted.
        type: path
"""

EXAMPLES = r"""
- name: Collect diagnostics
  kubernaut.devinfra.collect_diagnostics:
    instance: dev
    secrets: ["{{ postgres_pgvector_password }}"]
    postgres:
      container: datastorage-postgres
      user: slm_user
      database: action_history
  register: diag
"""

RETURN = r"""
files:
  description: File name to redacted content.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils.diagnostics import collect
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils.kind import KindCLI, module_runner
from ansible_collections.kubernaut.devinfra.plugins.module_utils.podman import PodmanCLI


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instance=dict(type="str", required=True),
            secrets=dict(type="list", elements="str", default=[], no_log=True),
            postgres=dict(type="dict"),
            log_lines=dict(type="int", default=200),
            kind=dict(type="dict", options=dict(
                name=dict(type="str", required=True),
                logs_dir=dict(type="path", required=True),
                kind_path=dict(type="path"),
            )),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        podman = PodmanCLI(module)
        kind = None
        if p["kind"]:
            kind_bin = p["kind"]["kind_path"] or module.get_bin_path("kind")
            if kind_bin:
                kind = (KindCLI(module_runner(module), kind_bin), p["kind"]["name"], p["kind"]["logs_dir"])
        files = collect(podman, p["instance"], p["secrets"], p["postgres"], p["log_lines"],
                        kind=kind) if podman.installed else {}
        if p["kind"] and kind is None:
            files["kind/export.txt"] = "no kind binary on PATH of %s: no kind logs exported\n" % p["instance"]
    except DevinfraError as err:
        fail_from_error(module, err, changed=False)
    module.exit_json(changed=False, files=files)


if __name__ == "__main__":
    main()
