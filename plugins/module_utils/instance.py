# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""Instances: several independent copies of the infrastructure on one host.

The default instance keeps DD-008's names and ports. Any other instance gets
free ports chosen once, stored in the instance's state directory on the
target and reused on every later run, so connection details stay stable."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError

INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
PORTS_FILE = "ports.json"
# Ports for non-default instances come from this range, away from the
# well-known ports and from Linux's default ephemeral range (32768-60999).
RANGE_START = 20000
RANGE_SIZE = 10000


def validate_instance(name):
    if not INSTANCE_RE.match(name or ""):
        raise DevinfraError(
            "Instance name %r is not valid: use 1-30 lowercase letters, digits and dashes, "
            "starting with a letter or digit." % (name,),
            hint="It becomes part of container, volume and database names.")
    return name


def first_candidate(instance, component):
    """A starting point that differs per instance and component, so two
    instances rarely even try the same port."""
    digest = hashlib.sha256(("%s/%s" % (instance, component)).encode("utf-8")).hexdigest()
    return RANGE_START + int(digest[:8], 16) % RANGE_SIZE


def choose_ports(instance, defaults, stored, is_free, taken=()):
    """Ports per component: defaults for 'dev', else stored or newly chosen.

    Returns (ports, new) where ``new`` lists components whose port was chosen now.
    """
    if instance == "dev":
        return dict(defaults), []
    ports = {}
    new = []
    used = set(taken) | set(v for k, v in stored.items() if k in defaults)
    for component in sorted(defaults):
        if component in stored:
            ports[component] = stored[component]
            continue
        start = first_candidate(instance, component)
        for offset in range(RANGE_SIZE):
            port = RANGE_START + (start - RANGE_START + offset) % RANGE_SIZE
            if port not in used and is_free(port):
                ports[component] = port
                used.add(port)
                new.append(component)
                break
        else:
            raise DevinfraError("No free port found for %s of instance %s in %d-%d."
                                % (component, instance, RANGE_START, RANGE_START + RANGE_SIZE - 1))
    return ports, new


def load_ports(state_dir):
    path = os.path.join(state_dir, PORTS_FILE)
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as fh:
            data = json.load(fh)
    except ValueError as exc:
        raise DevinfraError("The port assignment file %s is not valid JSON (%s)." % (path, exc),
                            hint="Fix or remove it; removing it lets the next run choose new ports.")
    return dict((k, int(v)) for k, v in data.get("ports", {}).items())


def save_ports(state_dir, instance, ports):
    if not os.path.isdir(state_dir):
        os.makedirs(state_dir, 0o700)
    path = os.path.join(state_dir, PORTS_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"instance": instance, "ports": ports}, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)
    return path
