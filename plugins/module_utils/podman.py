# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""The Podman CLI backend: facts, probes and the host adaptations that make
Podman's defaults work on hosts where they do not (cgroups v1/hybrid with crun,
hard ulimits below Podman's defaults). Everything runs as argv lists through
``module.run_command``; pure decision functions take plain values."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile

from ansible_collections.kubernaut.devinfra.plugins.module_utils import host
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError

MANAGED_BY_LABEL = "io.kubernaut.devinfra.managed-by"
# Images carry their own label: containers inherit their image's labels, so
# the containers' ownership label on an image would mark every container made
# from it as ours.
BUILT_BY_LABEL = "io.kubernaut.devinfra.built-by"
MANAGED_BY = "kubernaut.devinfra"
INSTANCE_LABEL = "io.kubernaut.devinfra.instance"
COMPONENT_LABEL = "io.kubernaut.devinfra.component"
INPUTS_HASH_LABEL = "io.kubernaut.devinfra.inputs-hash"
PROBE_IMAGE = "localhost/kubernaut-devinfra/probe:latest"
DROPIN_NAME = "50-kubernaut-devinfra.conf"

# What a failed `podman run` says, per problem we know how to fix.
FAILURE_PATTERNS = (
    ("cgroup-hybrid", re.compile(r"cgroups in hybrid mode not supported|cgroup.*v1.*not supported", re.I)),
    ("nofile", re.compile(r"RLIMIT_NOFILE|rlimit type 7\b", re.I)),
    ("nproc", re.compile(r"RLIMIT_NPROC|rlimit type 6\b", re.I)),
)

ULIMIT_CANDIDATES = (1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024)


def is_owned(labels, instance):
    """Whether ``labels`` say: managed by this collection, for ``instance``."""
    labels = labels or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(INSTANCE_LABEL) == instance


def classify_run_failure(stderr):
    """The set of known problems named in a failed `podman run`'s stderr."""
    return set(name for name, pattern in FAILURE_PATTERNS if pattern.search(stderr or ""))


def next_ulimit(current, hard):
    """The next value to try below ``current`` (None: start at the hard limit)."""
    if current is None:
        if hard is not None:
            return hard
        return ULIMIT_CANDIDATES[0]
    for value in ULIMIT_CANDIDATES:
        if value < current and (hard is None or value <= hard):
            return value
    return None


def probe_args(settings):
    """podman run flags that apply ``settings`` (runtime, nofile, nproc)."""
    args = []
    if settings.get("runtime"):
        args = ["--runtime", settings["runtime"]] + args
    for key in ("nofile", "nproc"):
        if settings.get(key):
            args += ["--ulimit", "%s=%d:%d" % (key, settings[key], settings[key])]
    return args


def render_dropin(settings):
    """containers.conf drop-in text for ``settings``; '' when nothing is needed."""
    if not settings:
        return ""
    lines = [
        "# Managed by kubernaut.devinfra (role podman_host). Podman's defaults do not",
        "# start containers on this host; these values were found by starting probe",
        "# containers. Remove this file to return to Podman's defaults.",
    ]
    ulimits = ['"%s=%d:%d"' % (k, settings[k], settings[k]) for k in ("nofile", "nproc") if settings.get(k)]
    if ulimits:
        lines += ["[containers]", "default_ulimits = [%s]" % ", ".join(ulimits)]
    if settings.get("runtime"):
        lines += ["[engine]", 'runtime = "%s"' % settings["runtime"]]
    return "\n".join(lines) + "\n"


def parse_dropin(text):
    """Inverse of render_dropin for the keys we write."""
    settings = {}
    match = re.search(r'^runtime\s*=\s*"([^"]+)"', text, re.M)
    if match:
        settings["runtime"] = match.group(1)
    for key in ("nofile", "nproc"):
        match = re.search(r'"%s=(\d+):(\d+)"' % key, text)
        if match:
            settings[key] = int(match.group(2))
    return settings


def dropin_path(rootless, home=None):
    if rootless:
        home = home or os.path.expanduser("~")
        return os.path.join(home, ".config", "containers", "containers.conf.d", DROPIN_NAME)
    return os.path.join("/etc/containers/containers.conf.d", DROPIN_NAME)


def summarize_info(info):
    """The few facts we use from `podman info --format json`."""
    host_info = info.get("host", {})
    store = info.get("store", {})
    return {
        "version": info.get("version", {}).get("Version"),
        "rootless": bool(host_info.get("security", {}).get("rootless")),
        "cgroup_version": host_info.get("cgroupVersion"),
        "cgroup_manager": host_info.get("cgroupManager"),
        "runtime": host_info.get("ociRuntime", {}).get("name"),
        "graph_root": store.get("graphRoot"),
        "os": host_info.get("os"),
        "arch": host_info.get("arch"),
    }


def parse_machine_list(text):
    """`podman machine list --format json` -> list of {name, running, rootful}."""
    try:
        machines = json.loads(text or "[]")
    except ValueError:
        return []
    out = []
    for m in machines or []:
        out.append({
            "name": m.get("Name"),
            "running": bool(m.get("Running")) or str(m.get("LastUp", "")).lower() == "currently running",
            "default": bool(m.get("Default")),
        })
    return out


def publishers_of(containers, port):
    """Names of containers (podman ps JSON) that publish host ``port``."""
    names = []
    for c in containers or []:
        for p in c.get("Ports") or []:
            first = int(p.get("host_port") or 0)
            count = int(p.get("range") or 1)
            if first <= port < first + count:
                names.extend(c.get("Names") or [])
    return names


def observe_containers(inspected, names, instance):
    """Per name: None when missing, else id, running and whether it carries this instance's labels."""
    by_name = {}
    for item in inspected or []:
        name = (item.get("Name") or "").lstrip("/")
        by_name[name] = item
    observed = {}
    for name in names:
        item = by_name.get(name)
        if item is None:
            observed[name] = None
            continue
        labels = (item.get("Config") or {}).get("Labels") or {}
        observed[name] = {
            "id": item.get("Id"),
            "running": bool((item.get("State") or {}).get("Running")),
            "owned": is_owned(labels, instance),
        }
    return observed


def owned_resources(containers, networks, volumes, instance):
    """Names and IDs of this instance's resources, from `podman ... ls --format json`.

    Every item is checked for both labels here: Podman ORs repeated label
    filters for volumes and networks, so the listings ask for the instance
    label alone and cannot be trusted to mean "ours"."""
    found = dict(containers=[], networks=[], volumes=[])
    for item in containers or []:
        if is_owned(item.get("Labels"), instance):
            found["containers"].append(dict(id=item.get("Id"), name=(item.get("Names") or [item.get("Id")])[0]))
    for item in networks or []:
        if is_owned(item.get("labels") or item.get("Labels"), instance):
            name = item.get("name") or item.get("Name")
            found["networks"].append(dict(id=item.get("id") or name, name=name))
    for item in volumes or []:
        if is_owned(item.get("Labels"), instance):
            found["volumes"].append(dict(id=item.get("Name"), name=item.get("Name")))
    for key in found:
        found[key].sort(key=lambda x: x["name"])
    return found


class PodmanCLI(object):
    """Podman commands for one module run."""

    def __init__(self, module, binary=None):
        self.module = module
        self.bin = binary or module.get_bin_path("podman", required=False)

    @property
    def installed(self):
        return bool(self.bin)

    def require(self):
        if not self.bin:
            raise DevinfraError(
                "podman was not found on the target host.",
                hint="Install it (Debian/Ubuntu: apt-get install podman; Fedora: dnf install podman; "
                     "macOS: brew install podman && podman machine init && podman machine start), "
                     "or run the kubernaut.devinfra.podman_host role, which installs it where it can.")

    def run(self, args, check=True, data=None):
        self.require()
        rc, out, err = self.module.run_command([self.bin] + list(args), data=data, binary_data=data is not None)
        if check and rc != 0:
            raise DevinfraError(
                "podman %s failed (rc=%d): %s" % (" ".join(args[:3]), rc, (err or out).strip()),
                hint="Run the same command by hand to see the full output.")
        return rc, out, err

    def info(self):
        out = self.run(["info", "--format", "json"])[1]
        return json.loads(out)

    def containers(self):
        out = self.run(["ps", "-a", "--format", "json"])[1]
        return json.loads(out or "[]")

    def image_labels(self, ref):
        """Labels of image ``ref``, or None if there is no such image."""
        rc, out, err = self.run(["image", "inspect", "--format", "json", ref], check=False)
        if rc != 0:
            return None
        data = json.loads(out or "[]")
        if not data:
            return None
        return (data[0].get("Config") or {}).get("Labels") or data[0].get("Labels") or {}

    def inspect_containers(self, names):
        """`podman container inspect` of ``names``; missing ones are simply absent.

        Podman prints the containers it found and exits 125 naming the others."""
        if not names:
            return []
        rc, out, err = self.run(["container", "inspect", "--format", "json"] + list(names), check=False)
        try:
            data = json.loads(out or "[]")
        except ValueError:
            data = None
        if data is None or (rc != 0 and "no such container" not in (err or "")):
            raise DevinfraError("podman container inspect failed (rc=%d): %s" % (rc, (err or out).strip()),
                                hint="Run `podman ps -a` on the target to see whether Podman works.")
        return data

    def built_image_tags(self):
        """Every tag of every image that carries our built-by label (one `podman images` call)."""
        out = self.run(["images", "--format", "json", "--filter", "label=%s=%s" % (BUILT_BY_LABEL, MANAGED_BY)])[1]
        return sorted(set(name for image in json.loads(out or "[]") for name in image.get("Names") or []))

    def list_labelled(self, kind, label):
        """`podman <kind> ls` (ps for containers) filtered on one label, as parsed JSON."""
        argv = (["ps", "-a"] if kind == "containers" else [kind[:-1], "ls"]) + [
            "--format", "json", "--filter", "label=%s" % label]
        return json.loads(self.run(argv)[1] or "[]")

    def remove(self, kind, ids, stop_timeout=None):
        """Remove containers (stopping them), networks or volumes by ID/name, in one call.

        Volumes are removed without --force: one still used by a container that
        is not ours fails instead of taking that container with it."""
        if not ids:
            return
        # --volumes: a container's anonymous volumes (an image VOLUME nothing was mounted on) go with it;
        # named volumes never do.
        verb = {"containers": ["rm", "-f", "--volumes"], "networks": ["network", "rm"],
                "volumes": ["volume", "rm"]}[kind]
        if kind == "containers" and stop_timeout is not None:
            verb = verb + ["--time", str(int(stop_timeout))]
        rc, out, err = self.run(verb + list(ids), check=False)
        if rc != 0:
            raise DevinfraError(
                "Removing %s %s failed (rc=%d): %s" % (kind, ", ".join(ids), rc, (err or out).strip()),
                hint="A volume still mounted by a container that is not this instance's is left alone on "
                     "purpose: remove that container yourself (podman ps -a --filter volume=NAME), then re-run.")

    def machines(self):
        out = self.run(["machine", "list", "--format", "json"])[1]
        return parse_machine_list(out)

    def probe_run(self, settings):
        """Start and remove a throw-away container; (ok, stderr)."""
        argv = ["run", "--rm", "--pull=never", "--net", "none"] + probe_args(settings) + [PROBE_IMAGE, "/bin/true"]
        rc, out, err = self.run(argv, check=False)
        return rc == 0, err

    def ensure_probe_image(self):
        """Import a tiny image (host's /bin/true and its libraries) to probe with.

        It needs no registry and no base image, so the host can be adapted before
        any real image exists. Returns True when it had to be imported.
        """
        if self.image_labels(PROBE_IMAGE) is not None:
            return False
        files = _true_and_libraries(self.module)
        tmpdir = tempfile.mkdtemp(prefix="devinfra-probe-")
        try:
            archive = os.path.join(tmpdir, "rootfs.tar")
            with tarfile.open(archive, "w") as tar:
                for path in files:
                    tar.add(os.path.realpath(path), arcname=path.lstrip("/"))
            self.run(["import", "--change", "LABEL %s=%s" % (BUILT_BY_LABEL, MANAGED_BY),
                      archive, PROBE_IMAGE])
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return True


def _true_and_libraries(module):
    true_bin = "/bin/true" if os.path.exists("/bin/true") else module.get_bin_path("true", required=True)
    files = [true_bin]
    ldd = module.get_bin_path("ldd")
    if ldd:
        rc, out, err = module.run_command([ldd, true_bin])
        if rc == 0:
            files += parse_ldd(out)
    return files


def parse_ldd(text):
    """Absolute library paths from `ldd` output."""
    paths = []
    for line in text.splitlines():
        match = re.search(r"(/\S+)\s+\(0x", line)
        if match:
            paths.append(match.group(1))
    return paths


# What Podman's ability to start a container on this host depends on, read
# without running anything. When none of it changed since the last probe, the
# probe's answer still holds (bench: the probe is a container start, ~0.5 s).
PROBE_CACHE_VERSION = 1
PROBE_BINARIES = ("podman", "conmon", "runc", "crun")
CONF_FILES = ("/usr/share/containers/containers.conf", "/etc/containers/containers.conf")
CONF_DIRS = ("/usr/share/containers/containers.conf.d", "/etc/containers/containers.conf.d")


def conf_paths(home, environ, listdir=os.listdir):
    """containers.conf files Podman may read, existing or not, in a stable order."""
    files = list(CONF_FILES) + [os.path.join(home, ".config", "containers", "containers.conf")]
    dirs = list(CONF_DIRS) + [os.path.join(home, ".config", "containers", "containers.conf.d")]
    for name in ("CONTAINERS_CONF", "CONTAINERS_CONF_OVERRIDE"):
        if environ.get(name):
            files.append(environ[name])
    for d in dirs:
        try:
            files.extend(os.path.join(d, n) for n in sorted(listdir(d)) if n.endswith(".conf"))
        except OSError:
            pass
    return files


def probe_fingerprint(binaries, conf_texts, kernel, cgroup_mode, hard_limits, euid):
    """One digest of everything the probe's answer depends on.

    ``binaries``: {name: (path, size, mtime_ns) or None}; ``conf_texts``:
    {path: text or None}; ``hard_limits``: {'nofile': hard, 'nproc': hard}.
    """
    doc = {
        "v": PROBE_CACHE_VERSION,
        "binaries": dict((k, list(v) if v else None) for k, v in binaries.items()),
        "conf": dict((k, hashlib.sha256(v.encode("utf-8")).hexdigest() if v is not None else None)
                     for k, v in conf_texts.items()),
        "kernel": kernel, "cgroup": cgroup_mode, "limits": hard_limits, "euid": euid,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode("utf-8")).hexdigest()


def read_probe_fingerprint(module, environ=None):
    """probe_fingerprint of this host, from stat() and file reads only."""
    environ = os.environ if environ is None else environ
    binaries = {}
    for name in PROBE_BINARIES:
        path = module.get_bin_path(name)
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        binaries[name] = (os.path.realpath(path), st.st_size, st.st_mtime_ns) if st else None
    conf = dict((p, host.read_text(p, default=None)) for p in conf_paths(os.path.expanduser("~"), environ))
    limits = host.parse_limits(host.read_text("/proc/self/limits"))
    return probe_fingerprint(
        binaries, conf, os.uname()[2], host.cgroup_mode_from_mounts(host.read_text("/proc/self/mounts")),
        dict((k, v[1]) for k, v in sorted(limits.items())), os.geteuid())


def cached_settings(cache_text, fingerprint, path):
    """The settings a still-valid probe cache holds, or None (missing, stale or unreadable)."""
    try:
        cache = json.loads(cache_text or "")
    except ValueError:
        return None
    if not isinstance(cache, dict) or cache.get("fingerprint") != fingerprint or cache.get("dropin_path") != path:
        return None
    settings = cache.get("settings")
    return settings if isinstance(settings, dict) else None


def read_probe_cache(module, cache_path, path):
    """Settings of the probe cache at ``cache_path`` if it still holds for this host and drop-in ``path``, else None."""
    return cached_settings(host.read_text(cache_path, default=None), read_probe_fingerprint(module), path)


def render_probe_cache(fingerprint, path, settings):
    return json.dumps({"fingerprint": fingerprint, "dropin_path": path, "settings": settings,
                       "note": "kubernaut.devinfra podman_host_config probe cache; safe to delete"},
                      sort_keys=True, indent=2) + "\n"


def find_working_settings(probe, hard_limits, have_runc, initial=None, max_attempts=16):
    """Find the smallest change to Podman's configuration that starts a container.

    ``probe(settings) -> (ok, stderr)`` starts a probe container with those
    settings applied as flags on top of the current configuration; ``initial``
    is what our drop-in already sets. Returns (settings, attempts); settings is
    {} when the current configuration works as it is. Raises DevinfraError with
    the last stderr when nothing we know of helps.
    """
    settings = {}
    base = dict(initial or {})
    attempts = []
    while len(attempts) < max_attempts:
        ok, err = probe(settings)
        attempts.append({"settings": dict(settings), "ok": ok, "error": (err or "").strip()[-300:]})
        if ok:
            return settings, attempts
        problems = classify_run_failure(err)
        if not problems:
            raise DevinfraError(
                "Podman cannot start a container on this host, for a reason kubernaut.devinfra does "
                "not know how to fix: %s" % (err or "").strip(),
                hint="Try `podman run --rm %s /bin/true` by hand." % PROBE_IMAGE,
                attempts=attempts)
        progressed = False
        if "cgroup-hybrid" in problems and settings.get("runtime") != "runc":
            if not have_runc:
                raise DevinfraError(
                    "crun cannot run containers on this host (cgroups v1/hybrid) and runc is not installed.",
                    hint="Install runc (Debian/Ubuntu: apt-get install runc) and re-run; the "
                         "podman_host role does this itself when it may use the package manager.",
                    attempts=attempts)
            settings["runtime"] = "runc"
            progressed = True
        for key in ("nofile", "nproc"):
            if key in problems:
                value = next_ulimit(settings.get(key, base.get(key)), (hard_limits.get(key) or (None, None))[1])
                if value is not None:
                    settings[key] = value
                    progressed = True
        if not progressed:
            break
    raise DevinfraError(
        "No runtime and ulimit settings that kubernaut.devinfra tried let Podman start a container: %s"
        % (attempts[-1]["error"] if attempts else "no attempt made"),
        hint="Check `podman run --rm %s /bin/true` by hand and the host's limits (ulimit -Hn, ulimit -Hu)."
             % PROBE_IMAGE,
        attempts=attempts)
