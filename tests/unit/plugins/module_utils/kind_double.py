"""TEST DOUBLE of kind's CLI (and of kind's node containers). Not evidence that kind works.

``FakeKindCLI`` emulates the documented behaviour of kind v0.32.0's commands as
read from its source (pkg/cmd/kind/..., pkg/cluster/internal/...): output on
stdout, "No kind clusters found." on stderr, errors as "ERROR: ..." with exit
status 1, ``create cluster`` refusing an existing name with kind's message,
``delete cluster`` being idempotent, ``get kubeconfig`` failing when the
control-plane container is stopped or kubeadm never ran, ``--wait`` running out
with a warning and exit status 0, node names from kind's namer.

It is a runner: ``double(argv, data=None, environ_update=None) -> (rc, out, err)``,
the signature module_utils/kind.py expects from ``module.run_command``. Every
call is recorded in ``calls``. State can be persisted to a JSON file so the
executable double (tests/integration/kind_double/kind) shares it across
processes.
"""

import base64
import json
import os

import yaml

KIND_VERSION_LINE = "kind v0.32.0 go1.24.6 linux/amd64"
FAKE_CA = "-----BEGIN CERTIFICATE-----\nTEST DOUBLE CA\n-----END CERTIFICATE-----\n"
# Input fixture for the provider preflight: a rootful, cgroup v2 Podman.
PODMAN_INFO_ROOTFUL_V2 = {"host": {"cgroupVersion": "v2", "security": {"rootless": False},
                                   "cgroupControllers": ["cpuset", "cpu", "io", "memory", "pids"]}}

MUTATING = ("create", "delete", "load")


def node_names(name, roles):
    counter, out = {}, []
    for role in roles:
        counter[role] = counter.get(role, 0) + 1
        out.append("%s-%s%s" % (name, role, "" if counter[role] == 1 else counter[role]))
    return out


class FakeKindCLI(object):
    """TEST DOUBLE: an in-memory kind (plus ``podman info``/``exec`` on its nodes)."""

    def __init__(self, state_file=None, server="https://127.0.0.1:40001", podman_info=None):
        self.state_file = state_file
        self.calls = []
        self.server = server
        self.podman_info = podman_info or PODMAN_INFO_ROOTFUL_V2
        self.clusters = {}
        self.fail_create = None      # stderr line to fail the next create with
        self.wait_times_out = False
        self.kill_create_after_nodes = False   # emulate a killed run: nodes left, no kubeadm
        # The local image store, for image side-loading: {any name podman resolves: (names, id)}.
        self.local_images = {}
        self._load()

    # ----- persistence (for the executable double) -----
    def _load(self):
        if self.state_file and os.path.exists(self.state_file):
            with open(self.state_file) as fh:
                data = json.load(fh)
            self.clusters = data.get("clusters", {})
            self.server = data.get("server", self.server)
            self.wait_times_out = data.get("wait_times_out", False)
            self.kill_create_after_nodes = data.get("kill_create_after_nodes", False)

    def _save(self):
        if self.state_file:
            with open(self.state_file, "w") as fh:
                json.dump(dict(clusters=self.clusters, server=self.server,
                               wait_times_out=self.wait_times_out,
                               kill_create_after_nodes=self.kill_create_after_nodes), fh)

    # ----- helpers for tests -----
    def add_cluster(self, name, workers=0, running=True, kubeadm_done=True, config=None):
        roles = ["control-plane"] + ["worker"] * workers
        self.clusters[name] = dict(nodes=node_names(name, roles), running=running,
                                   kubeadm_done=kubeadm_done, config=config, images={})
        self._save()

    def mutating_calls(self):
        return [c for c in self.calls if c["argv"][1:2] and c["argv"][1] in MUTATING
                or c["argv"][1:2] == ["save"]]

    def kubeconfig_text(self, name):
        ca = base64.b64encode(FAKE_CA.encode()).decode()
        return ("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n"
                "    server: %s\n  name: kind-%s\ncontexts:\n- context:\n    cluster: kind-%s\n"
                "    user: kind-%s\n  name: kind-%s\ncurrent-context: kind-%s\nkind: Config\n"
                "preferences: {}\nusers:\n- name: kind-%s\n  user:\n    client-certificate-data: "
                "RkFLRQ==\n    client-key-data: RkFLRQ==\n"
                % (ca, self.server, name, name, name, name, name, name))

    # ----- the runner -----
    def __call__(self, argv, data=None, environ_update=None):
        self.calls.append(dict(argv=list(argv), data=data, env=dict(environ_update or {})))
        tool = os.path.basename(argv[0])
        if tool == "podman":
            return self._podman(argv[1:])
        result = self._kind(argv[1:], data, environ_update or {})
        self._save()
        return result

    def _podman(self, args):
        if args[:1] == ["info"]:
            return 0, json.dumps(self.podman_info), ""
        if args[:1] == ["exec"] and args[2:4] == ["crictl", "inspecti"]:
            node, ref = args[1], args[-1]
            for cluster in self.clusters.values():
                if node in cluster["nodes"]:
                    image_id = cluster.get("images", {}).get(node, {}).get(ref)
                    if image_id:
                        return 0, json.dumps({"status": {"id": image_id, "repoTags": [ref]}}), ""
                    return 1, "", 'E0101 no such image "%s" present' % ref
            return 125, "", "Error: no container with name or ID \"%s\" found" % node
        if args[:3] == ["image", "inspect", "--format"]:
            found = self.local_images.get(args[-1])
            if not found:
                return 125, "", "Error: %s: image not known" % args[-1]
            names, image_id = found
            return 0, json.dumps([{"Id": image_id, "RepoTags": names, "Names": names}]), ""
        if args[:1] == ["save"]:
            archive, ref = self._flag(args, "-o"), args[-1]
            with open(archive, "w") as fh:   # the double's "archive": {name: id}
                json.dump({ref: "sha256:" + self.local_images[ref][1]}, fh)
            return 0, "", ""
        return 127, "", "TEST DOUBLE: podman %s is not emulated" % " ".join(args)

    @staticmethod
    def _flag(args, flag, default=None):
        return args[args.index(flag) + 1] if flag in args else default

    def _kind(self, args, data, env):
        if env.get("KIND_EXPERIMENTAL_PROVIDER") != "podman" and args[:1] != ["version"]:
            # Without the variable kind uses docker, which this host does not have.
            return 1, "", ('ERROR: failed to list clusters: command "docker ps -a --filter '
                           'label=io.x-k8s.kind.cluster --format \'{{.Label "io.x-k8s.kind.cluster"}}\'"'
                           ' failed with error: exec: "docker": executable file not found in $PATH')
        if args == ["version"]:
            return 0, KIND_VERSION_LINE + "\n", ""
        if args == ["get", "clusters"]:
            if not self.clusters:
                return 0, "", "enabling experimental podman provider\nNo kind clusters found.\n"
            return 0, "".join(n + "\n" for n in sorted(self.clusters)), ""
        name = self._flag(args, "--name", "kind")
        cluster = self.clusters.get(name)
        if args[:2] == ["get", "nodes"]:
            if not cluster:
                return 0, "", 'No kind nodes found for cluster "%s".\n' % name
            return 0, "".join(n + "\n" for n in cluster["nodes"]), ""
        if args[:2] == ["get", "kubeconfig"]:
            if not cluster or not any(n.endswith("-control-plane") for n in cluster["nodes"]):
                return 1, "", ("ERROR: could not locate any control plane nodes for cluster named '%s'. "
                               "Use the --name option to select a different cluster\n" % name)
            if not cluster["running"] or not cluster["kubeadm_done"]:
                return 1, "", ('ERROR: failed to get cluster internal kubeconfig: command "podman exec '
                               '--privileged %s-control-plane cat /etc/kubernetes/admin.conf" failed '
                               'with error: exit status %d\n'
                               % (name, 125 if not cluster["running"] else 1))
            return 0, self.kubeconfig_text(name), ""
        if args[:2] == ["export", "logs"]:
            return self._export_logs(args, name, cluster)
        if args[:2] == ["create", "cluster"]:
            return self._create(args, name, data)
        if args[:2] == ["delete", "cluster"]:
            self.clusters.pop(name, None)
            kubeconfig = self._flag(args, "--kubeconfig")
            if kubeconfig and os.path.exists(kubeconfig):
                # kind removes only the kind-<name> entries; emulate that coarsely:
                # a file with nothing else in it is emptied, others are left alone.
                with open(kubeconfig) as fh:
                    doc = yaml.safe_load(fh) or {}
                others = [c for c in doc.get("contexts") or [] if c.get("name") != "kind-" + name]
                if not others:
                    with open(kubeconfig, "w") as fh:
                        fh.write("apiVersion: v1\nkind: Config\npreferences: {}\n")
            return 0, "", 'enabling experimental podman provider\nDeleting cluster "%s" ...\n' % name
        if args[:2] == ["load", "image-archive"]:
            archive = args[2]
            if not os.path.exists(archive):
                return 1, "", "ERROR: stat %s: no such file or directory\n" % archive
            if not cluster:
                return 1, "", 'ERROR: no nodes found for cluster "%s"\n' % name
            targets = (self._flag(args, "--nodes") or ",".join(cluster["nodes"])).split(",")
            with open(archive) as fh:
                manifest = json.load(fh)   # the double's "archive": {name: id}
            for node in targets:
                if node not in cluster["nodes"]:
                    return 1, "", "ERROR: unknown node: %s\n" % node
                cluster.setdefault("images", {}).setdefault(node, {}).update(manifest)
            return 0, "", ""
        return 1, "", "ERROR: unknown command %r for \"kind\"\n" % " ".join(args)

    def _export_logs(self, args, name, cluster):
        """kind's layout (pkg/cluster/internal/providers/podman CollectLogs): host files at the top, per node the
        /var/log dump (pods/, containers/), inspect.json, serial.log and journal-derived logs."""
        if not cluster:
            return 1, "", 'ERROR: unknown cluster "%s"\n' % name
        dest = args[2] if len(args) > 2 and not args[2].startswith("--") else "/tmp/kind-export-double"
        os.makedirs(dest, exist_ok=True)
        with open(os.path.join(dest, "kind-version.txt"), "w") as fh:
            fh.write(KIND_VERSION_LINE + "\n")
        with open(os.path.join(dest, "podman-info.txt"), "w") as fh:
            fh.write("host:\n  arch: amd64\n")
        for node in cluster["nodes"]:
            node_dir = os.path.join(dest, node)
            os.makedirs(os.path.join(node_dir, "pods", "kube-system_coredns"), exist_ok=True)
            for fname in ("kubelet.log", "containerd.log", "journal.log", "serial.log"):
                with open(os.path.join(node_dir, fname), "w") as fh:
                    fh.write("".join("TEST DOUBLE %s %s line %d\n" % (node, fname, i) for i in range(300)))
            with open(os.path.join(node_dir, "inspect.json"), "w") as fh:
                json.dump([{"Name": node, "Config": {"Env": ["KIND_TOKEN=double-secret-token"]}}], fh)
            with open(os.path.join(node_dir, "pods", "kube-system_coredns", "0.log"), "w") as fh:
                fh.write("pod log\n")
        return 0, dest + "\n", 'Exported logs for cluster "%s" to:\n' % name

    def _create(self, args, name, data):
        if name in self.clusters:
            return 1, "", ('enabling experimental podman provider\nERROR: failed to create cluster: '
                           'node(s) already exist for a cluster with the name "%s"\n' % name)
        if self._flag(args, "--config") != "-":
            return 1, "", "ERROR: TEST DOUBLE only emulates --config -\n"
        try:
            config = json.loads(data)
        except (TypeError, ValueError):
            return 1, "", "ERROR: failed to create cluster: unable to decode config\n"
        if config.get("apiVersion") != "kind.x-k8s.io/v1alpha4" or config.get("kind") != "Cluster":
            return 1, "", "ERROR: failed to create cluster: unknown apiVersion\n"
        if self.fail_create:
            return 1, "", "ERROR: failed to create cluster: %s\n" % self.fail_create
        roles = [n["role"] for n in config["nodes"]]
        self.clusters[name] = dict(nodes=node_names(name, roles), running=True,
                                   kubeadm_done=not self.kill_create_after_nodes,
                                   config=config, images={})
        if self.kill_create_after_nodes:
            return -9, "", "Creating cluster \"%s\" ...\n (killed)" % name
        kubeconfig = self._flag(args, "--kubeconfig")
        if kubeconfig:
            with open(kubeconfig, "w") as fh:
                fh.write(self.kubeconfig_text(name))
        err = 'Creating cluster "%s" ...\n' % name
        if self.wait_times_out:
            err += " • WARNING: Timed out waiting for Ready ⚠️\n"
        return 0, "", err
