# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""Read-only host checks for host_preflight: facts plus a list of problems,
each with a one-line fix. Creates nothing and changes nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import platform

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.kubernaut.devinfra.plugins.module_utils import host
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils.podman import (
    INSTANCE_LABEL, MANAGED_BY_LABEL, PodmanCLI, dropin_path, is_owned, publishers_of, read_probe_cache,
    summarize_info)

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url

REGISTRY_ENDPOINTS = {
    "docker.io": "https://registry-1.docker.io/v2/",
    "quay.io": "https://quay.io/v2/",
    "ghcr.io": "https://ghcr.io/v2/",
    "registry.k8s.io": "https://registry.k8s.io/v2/",
}


TOOLS = ("runc", "crun", "debootstrap", "kind", "kubectl")


def validate_ports(ports):
    """Normalise port requests; raise before anything else happens."""
    out = []
    for item in ports:
        port = item.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise DevinfraError(
                "Port %r is not a TCP port: it must be a whole number from 1 to 65535." % (port,),
                hint="Fix the port variable (for example postgres_pgvector_port) and re-run.")
        address = item.get("address") or "127.0.0.1"
        try:
            ipaddress.ip_address(to_text(address))
        except ValueError:
            raise DevinfraError(
                "Bind address %r for port %d is not an IP address." % (address, port),
                hint="Use 127.0.0.1 (the default), ::1 or one of the host's own addresses.")
        out.append({"port": port, "address": address, "container": item.get("container")})
    return out


def problem(check, message, fix):
    return {"check": check, "message": message, "fix": fix}


def runtime_problems(facts, cgroup_mode, limits):
    """Problems predicted from facts alone (the probe in podman_host_config is the proof)."""
    problems = []
    if facts.get("runtime") == "crun" and cgroup_mode in (host.CGROUP_V1, host.CGROUP_HYBRID):
        problems.append(problem(
            "runtime",
            "crun refuses to run containers with cgroups %s ('cgroups in hybrid mode not supported')." % cgroup_mode,
            "Run the kubernaut.devinfra.podman_host role (it installs runc and selects it in a "
            "containers.conf drop-in), or set runtime = \"runc\" under [engine] in containers.conf."))
    return problems


def instance_containers(containers, instance):
    """Names of containers labelled as ours for ``instance``."""
    names = []
    for c in containers or []:
        if is_owned(c.get("Labels"), instance):
            names.extend(c.get("Names") or [])
    return names


def container_owners(containers):
    """{name: {Labels: our two labels (absent ones omitted), ImageName}} for every container on the host.

    Roles check a container name against this before they touch it, instead of one
    podman_container_info run per container.
    """
    owners = {}
    for c in containers or []:
        labels = c.get("Labels") or {}
        ours = dict((k, labels[k]) for k in (MANAGED_BY_LABEL, INSTANCE_LABEL) if k in labels)
        for name in c.get("Names") or []:
            owners[name] = {"Labels": ours, "ImageName": c.get("Image")}
    return owners


def check_port(request, containers, is_free, listeners, instance=None):
    """Fact for one port: free, or who holds it (and whether that is expected).

    A port held by the container named in the request, or by any container
    labelled as this instance's, is expected: that is a re-run.
    """
    fact = dict(request, free=True, holder=None, expected_holder=False)
    if is_free(request["address"], request["port"]):
        return fact, None
    fact["free"] = False
    publishers = publishers_of(containers, request["port"])
    if publishers:
        fact["holder"] = "container %s" % ", ".join(publishers)
        expected = set(instance_containers(containers, instance)) if instance else set()
        if request.get("container"):
            expected.add(request["container"])
        if expected.intersection(publishers):
            fact["expected_holder"] = True
            return fact, None
    else:
        owners = ["%s (pid %s) on %s" % (comm or "?", pid or "?", ip) for ip, pid, comm in listeners(request["port"])]
        fact["holder"] = "; ".join(owners) or "unknown process"
    return fact, problem(
        "port",
        "Port %d on %s is already in use by %s." % (request["port"], request["address"], fact["holder"]),
        "Stop that process or container, or choose another port for this component.")


def check_registry(name, timeout):
    url = REGISTRY_ENDPOINTS.get(name, "https://%s/v2/" % name)
    try:
        open_url(url, timeout=timeout, validate_certs=True, method="GET")
        return {"name": name, "reachable": True, "error": None}
    except HTTPError as exc:
        # 401 is the normal answer of a registry to an anonymous /v2/ request.
        return {"name": name, "reachable": True, "error": None, "status": getattr(exc, "code", None)}
    except Exception as exc:  # pylint: disable=broad-except
        return {"name": name, "reachable": False, "error": to_text(exc)[-200:]}


def run_preflight(module, params):
    ports = validate_ports(params["ports"])
    facts = {"platform": platform.system().lower(), "euid": os.geteuid(), "problems": []}
    problems = facts["problems"]

    podman = PodmanCLI(module)
    podman_facts = {"installed": podman.installed, "path": podman.bin}
    containers = []
    if podman.installed:
        try:
            podman_facts.update(summarize_info(podman.info()))
            containers = podman.containers()
            facts["container_owners"] = container_owners(containers)
            facts["built_images"] = podman.built_image_tags()
        except DevinfraError as err:
            podman_facts["error"] = err.msg
            problems.append(problem("podman", "podman is installed but `podman info` fails: %s" % err.msg,
                                    "Fix podman first (run `podman info`); on macOS start the machine: podman machine start."))
    elif params["require_podman"]:
        problems.append(problem("podman", "podman is not installed on the target host.",
                                "Run the kubernaut.devinfra.podman_host role, or apt-get install podman."))
    facts["podman"] = podman_facts
    if params.get("probe_cache") and "rootless" in podman_facts:
        # podman_host_config's probe cache, read only: valid means no probe container is needed.
        settings = read_probe_cache(module, params["probe_cache"], dropin_path(podman_facts["rootless"]))
        facts["probe_cache"] = {"path": params["probe_cache"], "valid": settings is not None,
                                "settings": settings or {}}
    facts["tools"] = dict((name, module.get_bin_path(name)) for name in TOOLS)

    if facts["platform"] == "darwin" and podman.installed:
        machines = podman.machines()
        facts["podman_machines"] = machines
        if not any(m["running"] for m in machines):
            problems.append(problem("podman_machine", "No podman machine is running.",
                                    "podman machine init --rootful && podman machine start"))

    if facts["platform"] == "linux":
        facts["cgroup_mode"] = host.cgroup_mode_from_mounts(host.read_text("/proc/self/mounts"))
        limits = host.parse_limits(host.read_text("/proc/self/limits"))
        facts["limits"] = dict((k, {"soft": v[0], "hard": v[1]}) for k, v in limits.items())
        problems.extend(runtime_problems(podman_facts, facts["cgroup_mode"], limits))

    storage = podman_facts.get("graph_root") or (
        "/var/lib/containers/storage" if os.geteuid() == 0 else os.path.expanduser("~/.local/share/containers/storage"))
    try:
        free = host.free_bytes(storage)
        facts["disk"] = {"path": storage, "free_bytes": free}
        if free < params["min_free_gb"] * 1024 ** 3:
            problems.append(problem("disk", "Only %.1f GB free in Podman's storage %s (%.1f GB wanted)."
                                    % (free / 1024.0 ** 3, storage, params["min_free_gb"]),
                                    "Free disk space there, e.g. remove unused images with podman image rm."))
    except OSError as exc:
        facts["disk"] = {"path": storage, "error": to_text(exc)}

    facts["ports"] = []
    for request in ports:
        fact, issue = check_port(request, containers, host.port_is_free, host.listeners, params.get("instance"))
        facts["ports"].append(fact)
        if issue:
            problems.append(issue)

    facts["registries"] = []
    if params["check_registries"]:
        for name in params["registries"]:
            facts["registries"].append(check_registry(name, params["registry_timeout"]))
    facts["registry_reachable"] = any(r["reachable"] for r in facts["registries"])
    return facts
