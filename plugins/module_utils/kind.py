# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""The kind backend: kind's CLI on Podman, a cluster's config, and decisions.

Everything kind-specific lives here; the modules only parse options and call
``ensure_cluster`` / ``ensure_images``. The CLI is reached through a runner
(``runner(argv, data=None, environ_update=None) -> (rc, stdout, stderr)``),
``module.run_command`` in production, a test double in unit tests, so every
decision is testable without kind.

What this file relies on from kind (v0.32.0, read from its source):

* ``kind get clusters`` prints one name per line; with none it prints
  "No kind clusters found." on stderr and exits 0.
* ``kind get nodes --name N`` prints one node container per line,
  ``N-control-plane``, ``N-worker``, ``N-worker2``...; none -> stderr message, rc 0.
* ``kind get kubeconfig --name N`` cats /etc/kubernetes/admin.conf from the
  control-plane container; it fails when that container is stopped or kubeadm
  never finished, which is what a killed ``create`` leaves behind.
* ``kind create cluster`` refuses an existing name ("node(s) already exist for
  a cluster with the name ..."), reads ``--config -`` from stdin, writes the
  kubeconfig to ``--kubeconfig`` (never ~/.kube/config when given) and, when
  ``--wait`` runs out, only prints "WARNING: Timed out waiting for Ready" and
  exits 0 - so a zero exit code is not proof of a usable cluster.
* ``kind delete cluster`` is idempotent.
* ``KIND_EXPERIMENTAL_PROVIDER=podman`` selects the Podman provider.
* Cluster names must match ``^[a-z0-9.-]+$``; above 50 characters kind warns
  that the ``-control-plane`` host name may not work.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import ipaddress
import json
import os
import re
import ssl
import tempfile
import time

from ansible.module_utils.six import string_types

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils.files import write_private_file
from ansible_collections.kubernaut.devinfra.plugins.module_utils.wait import NotReady, wait_until

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

try:
    from ansible.module_utils.urls import open_url
except ImportError:  # pragma: no cover
    open_url = None


DEFAULT_CLUSTER_NAME = "kubernaut-test"
# The node image kind v0.32.0 pins as its default (pkg/apis/config/defaults/image.go);
# the digest makes it reproducible, the tag says what it is.
DEFAULT_NODE_IMAGE = (
    "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5")
DEFAULT_STATE_DIR = "~/.local/state/kubernaut-devinfra/kind"
CONFIG_API_VERSION = "kind.x-k8s.io/v1alpha4"
# kind labels every node container with this key (providers/podman/constants.go).
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"
# Kubernetes node label carrying our config hash, so the cluster itself says
# which config built it (kind turns nodes[].labels into node labels).
CONFIG_HASH_NODE_LABEL = "devinfra.kubernaut.io/config-hash"
PROVIDERS = ("podman",)

# kind's own rule is ^[a-z0-9.-]+$; Podman additionally wants container names
# to start with an alphanumeric, and kind appends "-control-plane".
KIND_NAME_RE = re.compile(r"^[a-z0-9.-]+$")
CLUSTER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
CLUSTER_NAME_MAX = 50
PROTOCOLS = ("TCP", "UDP", "SCTP")

ALREADY_EXISTS_RE = re.compile(r"node\(s\) already exist for a cluster with the name")
WAIT_TIMED_OUT_RE = re.compile(r"Timed out waiting for Ready")
VERSION_RE = re.compile(r"\bv?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)")

INSTALL_HINT = (
    "Install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), e.g. "
    "`go install sigs.k8s.io/kind@v0.32.0` or the release binary "
    "https://kind.sigs.k8s.io/dl/v0.32.0/kind-linux-amd64 placed on PATH, or set "
    "kind_cluster_install: true to let the kind_cluster role download the pinned release "
    "(needs access to github.com), or pass kind_path.")


def kind_argument_spec():
    """Options shared by every kind module (see the kubernaut.devinfra.kind fragment)."""
    return dict(
        name=dict(type="str", default=DEFAULT_CLUSTER_NAME),
        provider=dict(type="str", default="podman", choices=list(PROVIDERS)),
        kind_path=dict(type="path"),
    )


# --------------------------------------------------------------------------
# Input validation: runs before any command, so bad input creates nothing.
# --------------------------------------------------------------------------

def validate_cluster_name(name):
    if not isinstance(name, string_types) or not name:
        raise DevinfraError("The kind cluster name must be a non-empty string.")
    if not KIND_NAME_RE.match(name) or not CLUSTER_NAME_RE.match(name):
        raise DevinfraError(
            "'%s' is not a valid kind cluster name: kind requires lowercase letters, digits, "
            "'.' and '-' only (^[a-z0-9.-]+$), and the node containers it becomes "
            "('%s-control-plane') must start with a letter or digit." % (name, name),
            hint="Use something like 'kubernaut-test' or 'kubernaut-test-ci'.")
    if len(name) > CLUSTER_NAME_MAX:
        raise DevinfraError(
            "kind cluster name '%s' is %d characters long; kind appends '-control-plane' to it "
            "for the node's host name, which must stay within 64 characters, so at most %d are "
            "allowed." % (name, len(name), CLUSTER_NAME_MAX),
            hint="Choose a shorter name.")


def _ip(value, what):
    try:
        return ipaddress.ip_address(u"%s" % (value,))
    except ValueError:
        raise DevinfraError("%s must be an IP address, got %r." % (what, value),
                            hint="Use 127.0.0.1 (the default) or another address of this host.")


def _check_port(value, what, allow_zero=False):
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 65535:
        raise DevinfraError("%s must be a port number between %d and 65535, got %r."
                            % (what, low, value))


def validate_cluster_options(params):
    """Raise DevinfraError for any option kind would reject or we refuse."""
    validate_cluster_name(params["name"])
    workers = params.get("workers", 0)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise DevinfraError("workers must be zero or a positive number of worker nodes, got %r."
                            % (workers,), hint="Use 0 for a single control-plane node.")
    image = params.get("node_image") or ""
    if not image.strip():
        raise DevinfraError("node_image must name a kind node image, e.g. %s." % DEFAULT_NODE_IMAGE)
    allow_public = bool(params.get("allow_public"))
    addr = _ip(params.get("api_server_address"), "api_server_address")
    if not addr.is_loopback and not allow_public:
        raise DevinfraError(
            "api_server_address %s would expose the cluster's API server beyond this host."
            % addr, hint="Use 127.0.0.1, or set allow_public: true (role: kind_cluster_allow_public) "
                         "if that is really wanted.")
    _check_port(params.get("api_server_port") or 0, "api_server_port", allow_zero=True)
    for i, mapping in enumerate(params.get("extra_port_mappings") or []):
        what = "extra_port_mappings[%d]" % i
        _check_port(mapping.get("container_port"), what + ".container_port")
        _check_port(mapping.get("host_port"), what + ".host_port")
        listen = _ip(mapping.get("listen_address") or "127.0.0.1", what + ".listen_address")
        if not listen.is_loopback and not allow_public:
            raise DevinfraError(
                "%s.listen_address %s would publish host port %s beyond this host."
                % (what, listen, mapping.get("host_port")),
                hint="Use 127.0.0.1 (the default), or set allow_public: true "
                     "(role: kind_cluster_allow_public) if that is really wanted.")
        protocol = (mapping.get("protocol") or "TCP").upper()
        if protocol not in PROTOCOLS:
            raise DevinfraError("%s.protocol must be one of %s, got %r."
                                % (what, ", ".join(PROTOCOLS), mapping.get("protocol")))
    for key, value in (params.get("node_labels") or {}).items():
        if key == CONFIG_HASH_NODE_LABEL:
            raise DevinfraError("node_labels must not set %s; the module owns it." % key)
        if not isinstance(value, string_types):
            raise DevinfraError("node_labels values must be strings; %s is %r." % (key, value))


# --------------------------------------------------------------------------
# The cluster's config (kind v1alpha4) and its hash.
# --------------------------------------------------------------------------

def render_config(params):
    """The kind Cluster config for these options, as a plain dict.

    JSON is valid YAML, so the canonical JSON text of this dict is what kind
    reads on stdin and what the hash covers. Every node carries the hash as a
    Kubernetes label; it is computed over the config without that label.
    """
    labels = dict(params.get("node_labels") or {})
    image = params["node_image"]

    def node(role):
        entry = {"role": role, "image": image}
        if labels:
            entry["labels"] = dict(labels)
        return entry

    control_plane = node("control-plane")
    mappings = []
    for m in params.get("extra_port_mappings") or []:
        mappings.append({
            "containerPort": m["container_port"],
            "hostPort": m["host_port"],
            "listenAddress": m.get("listen_address") or "127.0.0.1",
            "protocol": (m.get("protocol") or "TCP").upper(),
        })
    if mappings:
        control_plane["extraPortMappings"] = mappings
    networking = {"apiServerAddress": params["api_server_address"]}
    if params.get("api_server_port"):
        networking["apiServerPort"] = params["api_server_port"]
    config = {
        "kind": "Cluster",
        "apiVersion": CONFIG_API_VERSION,
        "name": params["name"],
        "networking": networking,
        "nodes": [control_plane] + [node("worker") for dummy in range(params.get("workers") or 0)],
    }
    digest = config_hash(config)
    for entry in config["nodes"]:
        entry.setdefault("labels", {})[CONFIG_HASH_NODE_LABEL] = digest
    return config, digest


def canonical_json(value, indent=None):
    separators = (",", ": ") if indent else (",", ":")
    return json.dumps(value, sort_keys=True, indent=indent, separators=separators)


def config_hash(config):
    """16 hex digits of sha256 over the canonical config (a valid label value)."""
    stripped = json.loads(canonical_json(config))
    for entry in stripped.get("nodes", []):
        entry.get("labels", {}).pop(CONFIG_HASH_NODE_LABEL, None)
        if "labels" in entry and not entry["labels"]:
            del entry["labels"]
    return hashlib.sha256(canonical_json(stripped).encode("utf-8")).hexdigest()[:16]


def expected_node_names(name, workers):
    """kind's node naming (providers/common/namer.go): a counter per role."""
    names = ["%s-control-plane" % name]
    for i in range(workers):
        names.append("%s-worker%s" % (name, "" if i == 0 else i + 1))
    return names


def summarise_changes(before, after, prefix=""):
    """Dotted paths whose values differ between two configs (for messages)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            path = "%s.%s" % (prefix, key) if prefix else key
            out.extend(summarise_changes(before.get(key), after.get(key), path))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for i, (b, a) in enumerate(zip(before, after)):
            out.extend(summarise_changes(b, a, "%s[%d]" % (prefix, i)))
        return out
    if before != after:
        return ["%s: %s -> %s" % (prefix or "config", _short(before), _short(after))]
    return []


def _short(value):
    if isinstance(value, list):
        return "%d item(s)" % len(value)
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------
# kind's CLI.
# --------------------------------------------------------------------------

def parse_lines(text):
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def parse_version(text):
    match = VERSION_RE.search(text or "")
    return match.group(1) if match else None


def parse_kubeconfig_server(text):
    match = re.search(r"^\s*server:\s*(\S+)\s*$", text or "", re.M)
    return match.group(1) if match else None


def parse_kubeconfig_ca(text):
    match = re.search(r"^\s*certificate-authority-data:\s*(\S+)\s*$", text or "", re.M)
    if not match:
        return None
    try:
        return base64.b64decode(match.group(1)).decode("ascii")
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


def last_error_line(stderr):
    """kind prints its failure as 'ERROR: ...' on stderr; keep that line."""
    lines = parse_lines(stderr)
    for line in reversed(lines):
        if line.startswith("ERROR:"):
            return line
    return lines[-1] if lines else "(no output)"


def module_runner(module):
    """The runner KindCLI and Context expect, on top of ``module.run_command``."""
    def run(argv, data=None, environ_update=None):
        return module.run_command(argv, data=data, environ_update=environ_update)
    return run


class KindCLI(object):
    """argv for kind's commands, run through an injectable runner.

    Mutating commands are appended to ``executed`` as they run; ``plan()``
    appends one without running it (check mode).
    """

    def __init__(self, runner, binary, provider="podman"):
        self.runner = runner
        self.binary = binary
        self.provider = provider
        self.executed = []

    @property
    def env(self):
        return {"KIND_EXPERIMENTAL_PROVIDER": self.provider}

    def _run(self, args, data=None):
        return self.runner([self.binary] + list(args), data=data, environ_update=self.env)

    def _display(self, args):
        return "KIND_EXPERIMENTAL_PROVIDER=%s %s" % (self.provider, " ".join([self.binary] + list(args)))

    def _read(self, args, what):
        rc, out, err = self._run(args)
        if rc != 0:
            raise DevinfraError("%s failed (`%s`, rc=%d): %s" % (what, self._display(args), rc,
                                                                 last_error_line(err)),
                                hint="Check that Podman works for this user (`podman ps`).")
        return out

    def version(self):
        return parse_version(self._read(["version"], "Asking kind for its version"))

    def get_clusters(self):
        return parse_lines(self._read(["get", "clusters"], "Listing kind clusters"))

    def get_nodes(self, name):
        return parse_lines(self._read(["get", "nodes", "--name", name],
                                      "Listing the nodes of kind cluster %s" % name))

    def get_kubeconfig(self, name):
        """(ok, kubeconfig text or kind's error line)."""
        rc, out, err = self._run(["get", "kubeconfig", "--name", name])
        if rc != 0:
            return False, last_error_line(err)
        return True, out

    @staticmethod
    def create_args(name, kubeconfig, wait_seconds):
        return ["create", "cluster", "--name", name, "--config", "-", "--kubeconfig", kubeconfig,
                "--wait", "%ds" % int(round(wait_seconds))]

    @staticmethod
    def delete_args(name, kubeconfig):
        return ["delete", "cluster", "--name", name, "--kubeconfig", kubeconfig]

    @staticmethod
    def load_args(name, archive, nodes):
        return ["load", "image-archive", archive, "--name", name, "--nodes", ",".join(nodes)]

    def export_logs(self, name, dest):
        """`kind export logs DEST --name NAME`: (ok, kind's last error line or the directory it wrote)."""
        rc, out, err = self._run(["export", "logs", dest, "--name", name])
        if rc != 0:
            return False, last_error_line(err) or "exit status %d" % rc
        return True, (out or "").strip() or dest

    def plan(self, args):
        self.executed.append(self._display(args))

    def mutate(self, args, what, data=None, hint=None):
        self.plan(args)
        rc, out, err = self._run(args, data=data)
        if rc != 0:
            raise DevinfraError("%s failed (`%s`, rc=%d): %s" % (what, self._display(args), rc,
                                                                 last_error_line(err)),
                                hint=hint, stderr=err)
        return out, err


# --------------------------------------------------------------------------
# Provider preflight: kind's own requirements on Podman, with the exact fix.
# --------------------------------------------------------------------------

DELEGATE_FIX = (
    "enable cgroup delegation for user sessions: sudo mkdir -p /etc/systemd/system/user@.service.d "
    "&& printf '[Service]\\nDelegate=yes\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf "
    "&& sudo systemctl daemon-reload, then log out and in again (systemd >= 252 does this by default)")
CGROUP2_FIX = (
    "switch the host to cgroup v2: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in "
    "/etc/default/grub, run sudo update-grub and reboot")
MACHINE_ROOTFUL_FIX = (
    "podman machine stop && podman machine set --rootful && podman machine start")


def provider_problems(info, system):
    """Problems (each ending in its fix) that stop kind on this Podman, and warnings.

    ``info`` is ``podman info --format json`` parsed; ``system`` is
    platform.system(). Mirrors kind's validateProvider (create.go) and the
    rootless page of its docs.
    """
    host = info.get("host") or {}
    rootless = bool((host.get("security") or {}).get("rootless"))
    cgroup2 = (host.get("cgroupVersion") or "") == "v2"
    controllers = set(host.get("cgroupControllers") or [])
    problems, warnings = [], []
    if system == "Darwin":
        if rootless:
            problems.append("kind on macOS needs a rootful podman machine, and the current one is "
                            "rootless. Fix: " + MACHINE_ROOTFUL_FIX)
        return problems, warnings
    if rootless:
        if not cgroup2:
            problems.append("kind on rootless Podman requires cgroup v2, and this host runs cgroup %s. "
                            "Fix: %s; or run the play as root (become: true)."
                            % (host.get("cgroupVersion") or "v1", CGROUP2_FIX))
        else:
            missing = sorted({"memory", "pids", "cpu"} - controllers)
            if missing:
                problems.append("kind on rootless Podman needs the cgroup controllers memory, pids and "
                                "cpu delegated to this user; missing: %s. Fix: %s; or run the play "
                                "as root (become: true)." % (", ".join(missing), DELEGATE_FIX))
    elif not cgroup2:
        warnings.append("This host runs cgroup v1, which kind deprecates; kind still works rootful "
                        "here, but a future kind release will not.")
    return problems, warnings


def podman_info(runner, podman_bin, system):
    rc, out, err = runner([podman_bin, "info", "--format", "json"], data=None, environ_update=None)
    if rc != 0:
        fix = ("podman machine init --rootful && podman machine start" if system == "Darwin"
               else "check `podman info` as this user; the podman_host role installs and adapts Podman")
        raise DevinfraError("Checking Podman for kind failed: `podman info` exited %d: %s"
                            % (rc, last_error_line(err)), hint="Fix: %s." % fix)
    try:
        return json.loads(out)
    except ValueError:
        raise DevinfraError("Checking Podman for kind failed: `podman info --format json` did not "
                            "print JSON.", hint="Run it by hand to see what it prints.")


# --------------------------------------------------------------------------
# Records: what we created, kept next to the kubeconfig on the target.
# --------------------------------------------------------------------------

class RecordStore(object):
    """<state_dir>/<name>.json: the config and its hash, status creating|ready.

    kind has no place for our metadata on its node containers, and a Kubernetes
    node label can only be read from a working API; a small file is readable
    even when the cluster is half dead. It is written *before* create (status
    'creating'), so a killed run is recognisable, and cross-checked against the
    real node containers on every run.
    """

    def __init__(self, state_dir):
        self.state_dir = state_dir

    def path(self, name):
        return os.path.join(self.state_dir, "%s.json" % name)

    def read(self, name):
        try:
            with open(self.path(name)) as fh:
                return json.load(fh)
        except (IOError, OSError):
            return None
        except ValueError:
            return {"status": "unreadable"}

    def write(self, name, record):
        write_private_file(self.path(name), canonical_json(record, indent=2) + "\n")

    def remove(self, name):
        return remove_file(self.path(name))


def remove_file(path):
    try:
        os.unlink(path)
        return True
    except (IOError, OSError):
        return False


def foreign_kubeconfig_contexts(path, name):
    """Contexts in an existing kubeconfig that are not this cluster's.

    The kubeconfig file is dedicated to the cluster and overwritten; pointing it
    at a shared kubeconfig (~/.kube/config) must not destroy other contexts.
    """
    if not HAS_YAML or not os.path.exists(path):
        return []
    try:
        with open(path) as fh:
            doc = yaml.safe_load(fh) or {}
    except (IOError, OSError, yaml.YAMLError):
        return ["(unparseable file)"]
    if not isinstance(doc, dict):
        return ["(not a kubeconfig)"]
    ours = "kind-%s" % name
    return sorted(c.get("name") for c in (doc.get("contexts") or [])
                  if isinstance(c, dict) and c.get("name") != ours)


# --------------------------------------------------------------------------
# Health of an existing cluster, and the decision.
# --------------------------------------------------------------------------

def default_api_probe(server, ca_pem, timeout=5):
    """GET <server>/readyz; anonymous access to it is kubeadm's default."""
    if open_url is None:  # pragma: no cover
        raise NotReady("ansible.module_utils.urls is unavailable")
    ca_path = None
    try:
        kwargs = dict(timeout=timeout, validate_certs=True)
        if ca_pem and server.startswith("https://"):
            fd, ca_path = tempfile.mkstemp(suffix=".crt")
            with os.fdopen(fd, "w") as fh:
                fh.write(ca_pem)
            kwargs["ca_path"] = ca_path
        try:
            resp = open_url(server.rstrip("/") + "/readyz", **kwargs)
            body = resp.read().decode("utf-8", "replace").strip()
        except (IOError, OSError, ssl.SSLError, ValueError) as exc:
            raise NotReady("%s/readyz: %s" % (server, exc))
        if body != "ok":
            raise NotReady("%s/readyz answered %r" % (server, body[:200]))
        return body
    finally:
        if ca_path:
            remove_file(ca_path)


class Health(object):
    def __init__(self, healthy, reason=None, nodes=None, kubeconfig=None, api_server=None):
        self.healthy = healthy
        self.reason = reason
        self.nodes = nodes or []
        self.kubeconfig = kubeconfig
        self.api_server = api_server


def probe_health(cli, name, record, api_probe, timeout, clock=time.monotonic, sleep=time.sleep):
    """Is an existing cluster usable? Read-only; the reason says why not."""
    nodes = cli.get_nodes(name)
    control_plane = "%s-control-plane" % name
    if control_plane not in nodes:
        return Health(False, "its control-plane node container %s is missing (nodes: %s)"
                      % (control_plane, ", ".join(nodes) or "none"), nodes)
    if record and record.get("status") == "creating":
        return Health(False, "a previous run started creating it and did not finish", nodes)
    if record and record.get("nodes") and sorted(record["nodes"]) != sorted(nodes):
        return Health(False, "its node containers (%s) differ from the ones created (%s)"
                      % (", ".join(nodes), ", ".join(record["nodes"])), nodes)
    ok, text = cli.get_kubeconfig(name)
    if not ok:
        return Health(False, "`kind get kubeconfig` fails (%s): the control-plane container is "
                      "stopped or Kubernetes was never set up in it" % text, nodes)
    server = parse_kubeconfig_server(text)
    if not server:
        return Health(False, "its kubeconfig names no API server", nodes, text)
    ca_pem = parse_kubeconfig_ca(text)
    try:
        wait_until(lambda: api_probe(server, ca_pem), timeout,
                   "API server %s of kind cluster %s" % (server, name), clock=clock, sleep=sleep)
    except DevinfraError as exc:
        return Health(False, "its API server does not answer: %s" % exc.msg, nodes, text, server)
    return Health(True, None, nodes, text, server)


class Plan(object):
    def __init__(self, action, reason=None, error=None):
        self.action = action      # create | replace | none | delete
        self.reason = reason
        self.error = error


def decide_present(exists, health, record, desired_hash, recreate_on_change):
    """The whole decision table for state=present, as a pure function."""
    if not exists:
        return Plan("create", "no kind cluster of that name exists")
    if not health.healthy:
        return Plan("replace", "the cluster is half-created or broken: %s" % health.reason)
    recorded = (record or {}).get("config_hash")
    if recorded == desired_hash:
        return Plan("none")
    if recorded is None:
        why = ("no record of its config exists, so it was not created by this module with this "
               "state_dir (or the record was lost)")
    else:
        why = "its recorded config hash %s differs from the requested %s" % (recorded, desired_hash)
    if recreate_on_change:
        return Plan("replace", why)
    return Plan("none", why, error=why)


# --------------------------------------------------------------------------
# ensure_cluster: the module's whole behaviour.
# --------------------------------------------------------------------------

class Context(object):
    """What ensure_* need from the outside world (all injectable)."""

    def __init__(self, runner, kind_bin, podman_bin, check_mode=False, diff=False, system="Linux",
                 api_probe=default_api_probe, clock=time.monotonic, sleep=time.sleep, warn=None):
        self.runner = runner
        self.kind_bin = kind_bin
        self.podman_bin = podman_bin
        self.check_mode = check_mode
        self.diff = diff
        self.system = system
        self.api_probe = api_probe
        self.clock = clock
        self.sleep = sleep
        self.warnings = []
        self.warn = warn or self.warnings.append


def ensure_cluster(params, ctx):
    """Converge one kind cluster; returns the module result (without msg)."""
    start = ctx.clock()
    name = params["name"]
    if params["state"] == "present":
        validate_cluster_options(params)
    else:
        validate_cluster_name(name)
    state_dir = params["state_dir"]
    kubeconfig = params.get("kubeconfig") or os.path.join(state_dir, "%s.kubeconfig" % name)
    store = RecordStore(state_dir)
    cli = KindCLI(ctx.runner, ctx.kind_bin, params["provider"])
    result = dict(changed=False, name=name, kubeconfig=kubeconfig, record=store.path(name),
                  executed=cli.executed, nodes=[], api_server=None)
    result["kind_version"] = cli.version()

    if params["state"] == "absent":
        _ensure_absent(params, ctx, cli, store, kubeconfig, result)
    else:
        _ensure_present(params, ctx, cli, store, kubeconfig, result)
    result["elapsed_ms"] = int(round((ctx.clock() - start) * 1000))
    if ctx.warnings:
        result["warnings"] = list(ctx.warnings)
    return result


def _ensure_absent(params, ctx, cli, store, kubeconfig, result):
    name = params["name"]
    exists = name in cli.get_clusters() or bool(cli.get_nodes(name))
    record = store.read(name)
    # A kubeconfig that also holds other clusters is not ours to remove; kind's
    # delete already took this cluster's entries out of it.
    ours = [store.path(name)]
    if not foreign_kubeconfig_contexts(kubeconfig, name):
        ours.append(kubeconfig)
    leftovers = [p for p in ours if os.path.exists(p)]
    result["outcome"] = "deleted" if exists else "absent"
    if exists:
        args = cli.delete_args(name, kubeconfig)
        if ctx.check_mode:
            cli.plan(args)
        else:
            cli.mutate(args, "Deleting kind cluster %s" % name)
    if not ctx.check_mode:
        for path in leftovers:
            remove_file(path)
    result["changed"] = exists or bool(leftovers)
    if ctx.diff and result["changed"]:
        result["diff"] = dict(before=dict(cluster=name, config_hash=(record or {}).get("config_hash"),
                                          files=leftovers),
                              after={})


def _ensure_present(params, ctx, cli, store, kubeconfig, result):
    name = params["name"]
    config, digest = render_config(params)
    result.update(config=config, config_hash=digest)
    foreign = foreign_kubeconfig_contexts(kubeconfig, name)
    if foreign:
        raise DevinfraError(
            "Refusing to use %s as the kubeconfig of kind cluster %s: it also holds the contexts %s, "
            "and this module overwrites the file." % (kubeconfig, name, ", ".join(foreign)),
            hint="Point kubeconfig at a file of its own (the default is <state_dir>/<name>.kubeconfig).")
    problems, warnings = provider_problems(podman_info(ctx.runner, ctx.podman_bin, ctx.system),
                                           ctx.system)
    for warning in warnings:
        ctx.warn(warning)
    if problems:
        raise DevinfraError("kind cannot run on this Podman: " + " ".join(problems),
                            problems=problems)

    record = store.read(name)
    exists = name in cli.get_clusters()
    health = (probe_health(cli, name, record, ctx.api_probe, min(params["wait_timeout"], 10.0),
                           clock=ctx.clock, sleep=ctx.sleep)
              if exists else Health(False, "absent"))
    plan = decide_present(exists, health, record, digest, params["recreate_on_change"])
    before = dict(config_hash=(record or {}).get("config_hash"), config=(record or {}).get("config"))
    if not exists:
        before = {}
    elif not health.healthy:
        before = dict(state="half-created", reason=health.reason, nodes=health.nodes)
    if plan.error:
        changes = summarise_changes((record or {}).get("config") or {}, config)
        raise DevinfraError(
            "kind cluster %s exists but %s. Changes: %s." % (name, plan.error, "; ".join(changes)),
            hint="Set recreate_on_change: true (role: kind_cluster_recreate_on_change) to delete and "
                 "recreate it - its workloads are lost - or delete it yourself with "
                 "`KIND_EXPERIMENTAL_PROVIDER=%s kind delete cluster --name %s`."
                 % (params["provider"], name),
            diff=dict(before=before, after=dict(config_hash=digest, config=config)),
            config_hash=digest, recorded_config_hash=(record or {}).get("config_hash"))

    result["outcome"] = {"create": "created", "replace": "replaced", "none": "unchanged"}[plan.action]
    if plan.reason and plan.action != "none":
        result["reason"] = plan.reason
    if plan.action in ("create", "replace"):
        result["changed"] = True
        if ctx.diff:
            result["diff"] = dict(before=before, after=dict(config_hash=digest, config=config))
        _create(params, ctx, cli, store, kubeconfig, config, digest, plan, result)
        return

    # Unchanged: the cluster is healthy and built from this config; keep the
    # kubeconfig file current (the API port changes if the nodes were recreated).
    result.update(nodes=health.nodes, api_server=health.api_server)
    if ctx.check_mode:
        changed = _file_differs(kubeconfig, health.kubeconfig)
    else:
        changed = write_private_file(kubeconfig, health.kubeconfig)
    if changed:
        result["changed"] = True
        result["kubeconfig_changed"] = True
        if ctx.diff:
            result["diff"] = dict(before=dict(kubeconfig="(outdated)"),
                                  after=dict(kubeconfig=kubeconfig))


def _file_differs(path, content):
    try:
        with open(path) as fh:
            return fh.read() != content
    except (IOError, OSError):
        return True


def _create(params, ctx, cli, store, kubeconfig, config, digest, plan, result):
    name = params["name"]
    result["nodes"] = expected_node_names(name, params["workers"])
    delete = cli.delete_args(name, kubeconfig)
    create = cli.create_args(name, kubeconfig, params["wait_timeout"])
    if ctx.check_mode:
        if plan.action == "replace":
            cli.plan(delete)
        cli.plan(create)
        return
    if plan.action == "replace":
        cli.mutate(delete, "Deleting the old kind cluster %s before recreating it" % name)
    record = dict(name=name, config_hash=digest, config=config, status="creating",
                  nodes=result["nodes"], kind_version=result.get("kind_version"))
    store.write(name, record)
    err = cli.mutate(create, "Creating kind cluster %s" % name, data=canonical_json(config, indent=2),
                     hint="kind deletes the nodes of a failed create; its log above says why. "
                          "`kind export logs --name %s` collects node logs when --retain was used."
                          % name)[1]
    if WAIT_TIMED_OUT_RE.search(err or ""):
        result["kind_wait_timed_out"] = True
        ctx.warn("kind's --wait of %ss ran out before the control plane was Ready; kind still exits 0, "
                 "so readiness is checked separately." % int(params["wait_timeout"]))
    nodes = cli.get_nodes(name)
    ok, text = cli.get_kubeconfig(name)
    if not ok:
        raise DevinfraError("kind created cluster %s but `kind get kubeconfig` fails: %s" % (name, text),
                            hint="The next run replaces it; `kind export logs --name %s` shows why." % name)
    server = parse_kubeconfig_server(text)
    waited = wait_until(lambda: ctx.api_probe(server, parse_kubeconfig_ca(text)), params["wait_timeout"],
                        "API server %s of the new kind cluster %s" % (server, name),
                        clock=ctx.clock, sleep=ctx.sleep,
                        hint="The next run replaces it; `kind export logs --name %s` shows why." % name)
    write_private_file(kubeconfig, text)
    record.update(status="ready", nodes=nodes)
    store.write(name, record)
    result.update(nodes=nodes, api_server=server, attempts=waited.attempts)


# --------------------------------------------------------------------------
# Image side-loading: podman save -> kind load image-archive, only where missing.
# --------------------------------------------------------------------------

def split_reference(ref):
    """(domain or None, remainder) the way container tools split an image name."""
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, ref


def has_tag_or_digest(ref):
    return "@" in ref or ref.rfind(":") > ref.rfind("/")


def qualify(ref):
    """What containerd on a node calls a bare reference (kind's sanitizeImage)."""
    domain, rest = split_reference(ref)
    if domain is None:
        if "/" not in rest:
            rest = "library/" + rest
        ref = "docker.io/" + rest
    if not has_tag_or_digest(ref):
        ref += ":latest"
    return ref


def choose_local_name(requested, names):
    """Pick the name Podman stores for ``requested`` (its RepoTags / Names).

    Podman keeps locally built images as localhost/<name>; a user asking for
    'kubernaut-devinfra/redis:7' means 'localhost/kubernaut-devinfra/redis:7',
    and that is the name the node must know (pods reference it the same way).
    """
    wanted = requested if has_tag_or_digest(requested) else requested + ":latest"
    names = [n for n in names if n]
    for candidate in (wanted, "localhost/" + wanted, qualify(wanted)):
        if candidate in names:
            return candidate
    domain = split_reference(wanted)[0]
    if domain is None:
        for n in names:
            if n.endswith("/" + wanted):
                return n
    return names[0] if names else None


def normalise_image_id(image_id):
    image_id = (image_id or "").strip()
    return image_id if image_id.startswith("sha256:") or not image_id else "sha256:" + image_id


def local_image(runner, podman_bin, ref):
    """(name to load, image id) for an image in the local Podman store."""
    rc, out, err = runner([podman_bin, "image", "inspect", "--format", "json", ref],
                          data=None, environ_update=None)
    if rc != 0:
        raise DevinfraError("Image %s is not in the local Podman store (`podman image inspect` "
                            "failed: %s)." % (ref, last_error_line(err)),
                            hint="Build or pull it first, e.g. `podman build -t %s .`." % ref)
    info = json.loads(out)[0]
    names = list(info.get("RepoTags") or []) + list(info.get("Names") or [])
    name = choose_local_name(ref, names) or ref
    return name, normalise_image_id(info.get("Id"))


def node_image_id(runner, podman_bin, node, ref):
    """The image id containerd on ``node`` has for ``ref``, or None (read-only)."""
    rc, out, dummy = runner([podman_bin, "exec", node, "crictl", "inspecti", "-o", "json", ref],
                            data=None, environ_update=None)
    if rc != 0:
        return None
    try:
        return normalise_image_id(((json.loads(out) or {}).get("status") or {}).get("id"))
    except ValueError:
        return None


def ensure_images(params, ctx, tmpdir):
    """Load each image into the nodes that lack it; changed only when one did."""
    start = ctx.clock()
    name = params["name"]
    validate_cluster_name(name)
    cli = KindCLI(ctx.runner, ctx.kind_bin, params["provider"])
    nodes = cli.get_nodes(name)
    if not nodes:
        raise DevinfraError("kind cluster %s has no nodes, so no image can be loaded into it." % name,
                            hint="Create it first (kubernaut.devinfra.kind_cluster).")
    images = []
    for ref in params["images"]:
        local_name, image_id = local_image(ctx.runner, ctx.podman_bin, ref)
        lacking = [n for n in nodes if node_image_id(ctx.runner, ctx.podman_bin, n, local_name) != image_id]
        entry = dict(requested=ref, name=local_name, id=image_id, loaded_into=lacking)
        images.append(entry)
        if not lacking:
            continue
        archive = os.path.join(tmpdir, "%s.tar" % re.sub(r"[^A-Za-z0-9_.-]+", "_", local_name))
        save = [ctx.podman_bin, "save", "--format", "docker-archive", "-o", archive, local_name]
        load = cli.load_args(name, archive, lacking)
        if ctx.check_mode:
            cli.executed.append(" ".join(save))
            cli.plan(load)
            continue
        cli.executed.append(" ".join(save))
        rc, dummy, err = ctx.runner(save, data=None, environ_update=None)
        if rc != 0:
            raise DevinfraError("Saving %s with podman failed: %s" % (local_name, last_error_line(err)))
        try:
            cli.mutate(load, "Loading %s into kind cluster %s" % (local_name, name))
        finally:
            remove_file(archive)
        still = [n for n in lacking if node_image_id(ctx.runner, ctx.podman_bin, n, local_name) != image_id]
        if still:
            raise DevinfraError("kind loaded %s but nodes %s still do not report image %s."
                                % (local_name, ", ".join(still), image_id),
                                hint="Check `podman exec %s crictl images`." % still[0])
    return dict(changed=any(e["loaded_into"] for e in images), images=images, nodes=nodes,
                executed=cli.executed, name=name,
                elapsed_ms=int(round((ctx.clock() - start) * 1000)))
