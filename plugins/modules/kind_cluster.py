#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kind_cluster
short_description: Create, keep or delete a kind cluster on Podman, idempotently
version_added: 0.1.0
description:
  - Converges one kind cluster on the target host, with kind's Podman provider
    (C(KIND_EXPERIMENTAL_PROVIDER=podman)).
  - The module renders a kind C(kind.x-k8s.io/v1alpha4) C(Cluster) config from its options and records
    the config and its hash in C(<state_dir>/<name>.json); every node also carries the hash as the
    Kubernetes label C(devinfra.kubernaut.io/config-hash).
  - kind refuses to create a cluster that exists, so the module probes first (C(kind get clusters)).
    An existing cluster with the same config hash is left alone and its kubeconfig file kept current.
    A different hash is shown in the diff and fails, unless O(recreate_on_change=true) replaces it.
  - A half-created cluster - the control-plane container missing or stopped, C(kind get kubeconfig)
    failing, the API server not answering C(/readyz), a record left in status C(creating) by a killed
    run - is reported as such and replaced, never reported as present.
  - Before calling kind it checks kind's own requirements on Podman (rootful, or rootless with cgroup v2
    and delegated controllers; a rootful C(podman machine) on macOS) and fails with the exact fix.
  - A successful run proves only that the API server answers C(/readyz). Node readiness and CoreDNS are
    checked by the C(kubernaut.devinfra.kind_cluster) role with C(kubernetes.core.k8s_info), because
    C(kind create cluster --wait) exits 0 even when its wait runs out.
extends_documentation_fragment:
  - kubernaut.devinfra.kind
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Probes only; returns the kind commands it would run in RV(executed) and a truthful C(changed).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Before/after of the config hash and the rendered config, or the half-created state replaced.
options:
  state:
    description:
      - C(present) creates the cluster if needed; C(absent) deletes it, its record and its kubeconfig file.
    type: str
    default: present
    choices: [present, absent]
  workers:
    description:
      - Number of worker nodes next to the single control-plane node.
    type: int
    default: 0
  node_image:
    description:
      - The kind node image of every node. Pin it with a digest, as kind's release notes do.
      - The default is the image kind v0.32.0 uses by default.
    type: str
    default: kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5
  api_server_address:
    description:
      - Host address the API server is published on (kind's C(networking.apiServerAddress)).
      - Anything but a loopback address needs O(allow_public=true).
    type: str
    default: 127.0.0.1
  api_server_port:
    description:
      - Host port of the API server; C(0) lets kind pick a free one (the kubeconfig always says which).
    type: int
    default: 0
  extra_port_mappings:
    description:
      - Host ports published from the control-plane node (kind's C(extraPortMappings)).
      - kind itself defaults C(listenAddress) to C(0.0.0.0); this module always writes it, C(127.0.0.1)
        unless told otherwise.
    type: list
    elements: dict
    default: []
    suboptions:
      container_port:
        description: Port inside the node container.
        type: int
        required: true
      host_port:
        description: Port on the host.
        type: int
        required: true
      listen_address:
        description:
          - Host address to bind. A non-loopback address needs O(allow_public=true).
        type: str
        default: 127.0.0.1
      protocol:
        description: Protocol of the mapping.
        type: str
        default: TCP
        choices: [TCP, UDP, SCTP]
  allow_public:
    description:
      - Allow O(api_server_address) or a O(extra_port_mappings[].listen_address) that is not loopback.
    type: bool
    default: false
  node_labels:
    description:
      - Kubernetes labels for every node (kind's C(nodes[].labels)), e.g. the devinfra instance.
    type: dict
    default: {}
  kubeconfig:
    description:
      - File the cluster's kubeconfig is written to (mode 0600). It is dedicated to this cluster and
        overwritten; the module refuses a file that holds other contexts. kind is always given this
        path, so C(~/.kube/config) is never touched.
      - Defaults to C(<state_dir>/<name>.kubeconfig).
    type: path
  state_dir:
    description:
      - Directory on the target for the record of the cluster's config and the default kubeconfig.
    type: path
    default: ~/.local/state/kubernaut-devinfra/kind
  recreate_on_change:
    description:
      - When the existing cluster was built from another config (or there is no record of it),
        delete and recreate it instead of failing. Its workloads are lost.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds kind waits for the control plane (C(kind create cluster --wait)), and then the module
        for the API server to answer C(/readyz). An existing cluster's API gets at most 10 s.
    type: float
    default: 300
notes:
  - Only kind's documented CLI is used (C(get clusters), C(get nodes), C(get kubeconfig), C(create cluster
    --config - --kubeconfig --wait), C(delete cluster --kubeconfig), C(version)); the config is passed
    on stdin as JSON, which kind's YAML loader reads.
seealso:
  - module: kubernaut.devinfra.kind_load_image
  - name: kind configuration
    description: The v1alpha4 Cluster config this module renders.
    link: https://kind.sigs.k8s.io/docs/user/configuration/
author:
  - kubernaut developers (@kubernaut)
"""

EXAMPLES = r"""
- name: A single-node cluster for E2E tests
  kubernaut.devinfra.kind_cluster:
    name: kubernaut-test
  register: kind

- name: Two workers and an ingress port on localhost only
  kubernaut.devinfra.kind_cluster:
    name: kubernaut-test-ci
    workers: 2
    extra_port_mappings:
      - container_port: 80
        host_port: 18080
    kubeconfig: /tmp/kubernaut-test-ci.kubeconfig
    recreate_on_change: true

- name: Remove it
  kubernaut.devinfra.kind_cluster:
    name: kubernaut-test-ci
    state: absent
"""

RETURN = r"""
outcome:
  description: "What happened (or would): created, replaced, unchanged, deleted, absent."
  returned: always
  type: str
  sample: created
reason:
  description: Why the cluster was created or replaced (e.g. what made it half-created).
  returned: when created or replaced
  type: str
nodes:
  description: Node container names of the cluster (planned names in check mode).
  returned: always
  type: list
  elements: str
  sample: [kubernaut-test-control-plane]
kubeconfig:
  description: Path of the kubeconfig file.
  returned: always
  type: str
api_server:
  description: API server URL from the kubeconfig; null in check mode before creation and when absent.
  returned: always
  type: str
  sample: https://127.0.0.1:40123
kind_version:
  description: Version reported by C(kind version).
  returned: always
  type: str
  sample: 0.32.0
config_hash:
  description: Hash of the requested config (16 hex digits).
  returned: when state=present
  type: str
config:
  description: The rendered kind Cluster config.
  returned: when state=present
  type: dict
record:
  description: Path of the record file of the cluster's config.
  returned: always
  type: str
executed:
  description: kind commands that changed something, or would in check mode.
  returned: always
  type: list
  elements: str
  sample: ["KIND_EXPERIMENTAL_PROVIDER=podman /usr/local/bin/kind create cluster --name kubernaut-test --config - ..."]
kind_wait_timed_out:
  description: kind's C(--wait) ran out (kind still exits 0).
  returned: when it happened
  type: bool
elapsed_ms:
  description: Time the module spent.
  returned: always
  type: int
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import (
    DevinfraError, fail_from_error)
from ansible_collections.kubernaut.devinfra.plugins.module_utils.kind import (
    DEFAULT_NODE_IMAGE, DEFAULT_STATE_DIR, INSTALL_HINT, Context, ensure_cluster,
    kind_argument_spec, module_runner, validate_cluster_name, validate_cluster_options)


def argument_spec():
    spec = kind_argument_spec()
    spec.update(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        workers=dict(type="int", default=0),
        node_image=dict(type="str", default=DEFAULT_NODE_IMAGE),
        api_server_address=dict(type="str", default="127.0.0.1"),
        api_server_port=dict(type="int", default=0),
        extra_port_mappings=dict(type="list", elements="dict", default=[], options=dict(
            container_port=dict(type="int", required=True),
            host_port=dict(type="int", required=True),
            listen_address=dict(type="str", default="127.0.0.1"),
            protocol=dict(type="str", default="TCP", choices=["TCP", "UDP", "SCTP"]),
        )),
        allow_public=dict(type="bool", default=False),
        node_labels=dict(type="dict", default={}),
        kubeconfig=dict(type="path"),
        state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
        recreate_on_change=dict(type="bool", default=False),
        wait_timeout=dict(type="float", default=300),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        # Bad input fails before kind is even looked for.
        if params["state"] == "present":
            validate_cluster_options(params)
        else:
            validate_cluster_name(params["name"])
        kind_bin = params["kind_path"] or module.get_bin_path("kind")
        if kind_bin and not os.access(kind_bin, os.X_OK):
            raise DevinfraError("Managing kind cluster %s failed: kind_path %s is not an executable file."
                                % (params["name"], kind_bin), hint=INSTALL_HINT)
        if not kind_bin:
            raise DevinfraError("Managing kind cluster %s failed: the kind binary was not found on PATH "
                                "of %s." % (params["name"], platform.node()), hint=INSTALL_HINT)
        podman_bin = module.get_bin_path("podman")
        if not podman_bin:
            raise DevinfraError("Managing kind cluster %s failed: kind's podman provider needs podman, "
                                "which is not on PATH." % params["name"],
                                hint="Run the kubernaut.devinfra.podman_host role first.")
        ctx = Context(module_runner(module), kind_bin, podman_bin, check_mode=module.check_mode,
                      diff=module._diff, system=platform.system(), warn=module.warn)
        result = ensure_cluster(params, ctx)
    except DevinfraError as err:
        fail_from_error(module, err, changed=False, name=params["name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
