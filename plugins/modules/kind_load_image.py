#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kind_load_image
short_description: Side-load local Podman images into the nodes of a kind cluster
version_added: 0.1.0
description:
  - For each image, asks every node's containerd (C(podman exec <node> crictl inspecti)) whether it has
    the image with the same id as the local Podman store; only the nodes that lack it get it, via
    C(podman save) and C(kind load image-archive --nodes).
  - C(kind load docker-image) is not used, because it calls C(docker) and fails on Podman-only hosts.
  - Names are normalised the way Podman stores them. A locally built C(kubernaut-devinfra/redis:7) is
    C(localhost/kubernaut-devinfra/redis:7) in Podman, and that name is what the node gets and what pods
    must reference (returned as RV(images[].name)).
  - After loading, the nodes are asked again; a node that still lacks the image fails the task.
extends_documentation_fragment:
  - kubernaut.devinfra.kind
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Probes the nodes and returns the commands it would run; loads nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  images:
    description:
      - Images in the local Podman store of the target, by any name Podman resolves.
    type: list
    elements: str
    required: true
author:
  - kubernaut developers (@kubernaut)
"""

EXAMPLES = r"""
- name: Make the locally built images available to pods
  kubernaut.devinfra.kind_load_image:
    name: kubernaut-test
    images:
      - localhost/kubernaut-devinfra/redis:7
      - kubernaut-devinfra/postgres-pgvector:17
"""

RETURN = r"""
images:
  description: One entry per requested image.
  returned: always
  type: list
  elements: dict
  contains:
    requested:
      description: The name as given.
      type: str
    name:
      description: The name the nodes know it by (reference it so in pod specs).
      type: str
      sample: localhost/kubernaut-devinfra/redis:7
    id:
      description: Image id (C(sha256:...)).
      type: str
    loaded_into:
      description: Nodes that lacked it and were loaded (would be, in check mode).
      type: list
      elements: str
nodes:
  description: Node containers of the cluster.
  returned: always
  type: list
  elements: str
executed:
  description: podman save and kind load commands run (or that would run in check mode).
  returned: always
  type: list
  elements: str
elapsed_ms:
  description: Time the module spent.
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import (
    DevinfraError, fail_from_error)
from ansible_collections.kubernaut.devinfra.plugins.module_utils.kind import (
    INSTALL_HINT, Context, ensure_images, kind_argument_spec, module_runner, validate_cluster_name)


def main():
    spec = kind_argument_spec()
    spec.update(images=dict(type="list", elements="str", required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    try:
        validate_cluster_name(params["name"])
        kind_bin = params["kind_path"] or module.get_bin_path("kind")
        if kind_bin and not os.access(kind_bin, os.X_OK):
            raise DevinfraError("Loading images into kind cluster %s failed: kind_path %s is not an "
                                "executable file." % (params["name"], kind_bin), hint=INSTALL_HINT)
        if not kind_bin:
            raise DevinfraError("Loading images into kind cluster %s failed: the kind binary was not "
                                "found on PATH." % params["name"], hint=INSTALL_HINT)
        podman_bin = module.get_bin_path("podman")
        if not podman_bin:
            raise DevinfraError("Loading images into kind cluster %s failed: podman is not on PATH."
                                % params["name"])
        ctx = Context(module_runner(module), kind_bin, podman_bin, check_mode=module.check_mode, warn=module.warn)
        result = ensure_images(params, ctx, module.tmpdir)
    except DevinfraError as err:
        fail_from_error(module, err, changed=False, name=params["name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
