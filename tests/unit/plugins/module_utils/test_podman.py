import pytest

from ansible_collections.kubernaut.devinfra.plugins.module_utils import podman
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError

# The exact messages seen on a Debian 12 host with cgroups hybrid and hard
# limits nofile=20000, where podman asks for more by default.
CRUN_NOFILE = "Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted: OCI permission denied"
CRUN_HYBRID = "Error: OCI runtime error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2"
RUNC_NOFILE = ("Error: runc: runc create failed: unable to start container process: error during container "
               "init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted")
RUNC_NPROC = RUNC_NOFILE.replace("type 7", "type 6")


def test_classify_known_failures():
    assert podman.classify_run_failure(CRUN_NOFILE) == {"nofile"}
    assert podman.classify_run_failure(CRUN_HYBRID) == {"cgroup-hybrid"}
    assert podman.classify_run_failure(RUNC_NOFILE) == {"nofile"}
    assert podman.classify_run_failure(RUNC_NPROC) == {"nproc"}
    assert podman.classify_run_failure("Error: no space left on device") == set()


def test_next_ulimit_starts_at_hard_limit_then_steps_down():
    assert podman.next_ulimit(None, 96365) == 96365
    assert podman.next_ulimit(96365, 96365) == 65536
    assert podman.next_ulimit(65536, 96365) == 32768
    assert podman.next_ulimit(1024, 96365) is None
    assert podman.next_ulimit(None, None) == podman.ULIMIT_CANDIDATES[0]


class ScriptedHost(object):
    """Stands in for `podman run` on the host described in the tests above:
    crun refuses (hybrid), nofile above 20000 and nproc above 32768 fail."""

    def __init__(self):
        self.calls = []

    def __call__(self, settings):
        self.calls.append(dict(settings))
        runtime = settings.get("runtime", "crun")
        nofile = settings.get("nofile", 1048576)
        nproc = settings.get("nproc", 1048576)
        if nofile > 20000:
            return False, CRUN_NOFILE if runtime == "crun" else RUNC_NOFILE
        if runtime == "crun":
            return False, CRUN_HYBRID
        if nproc > 32768:
            return False, RUNC_NPROC
        return True, ""


def test_find_working_settings_on_the_reference_host():
    probe = ScriptedHost()
    settings, attempts = podman.find_working_settings(
        probe, {"nofile": (20000, 20000), "nproc": (96365, 96365)}, have_runc=True)
    assert settings == {"runtime": "runc", "nofile": 20000, "nproc": 32768}
    assert attempts[-1]["ok"] is True
    assert len(probe.calls) <= 6


def test_find_working_settings_needs_nothing_on_a_good_host():
    settings, attempts = podman.find_working_settings(lambda s: (True, ""), {}, have_runc=False)
    assert settings == {}
    assert len(attempts) == 1


def test_missing_runc_says_how_to_install_it():
    with pytest.raises(DevinfraError) as err:
        podman.find_working_settings(lambda s: (False, CRUN_HYBRID), {}, have_runc=False)
    assert "apt-get install runc" in str(err.value)


def test_unknown_failure_is_reported_verbatim():
    with pytest.raises(DevinfraError) as err:
        podman.find_working_settings(lambda s: (False, "Error: something else"), {}, have_runc=True)
    assert "something else" in str(err.value)


def test_dropin_round_trip():
    settings = {"runtime": "runc", "nofile": 20000, "nproc": 32768}
    text = podman.render_dropin(settings)
    assert 'runtime = "runc"' in text
    assert '"nofile=20000:20000"' in text
    assert podman.parse_dropin(text) == settings
    assert podman.render_dropin({}) == ""


def test_dropin_paths():
    assert podman.dropin_path(False) == "/etc/containers/containers.conf.d/50-kubernaut-devinfra.conf"
    assert podman.dropin_path(True, home="/home/u") == \
        "/home/u/.config/containers/containers.conf.d/50-kubernaut-devinfra.conf"


def test_publishers_of_port_ranges():
    containers = [
        {"Names": ["datastorage-postgres"], "Ports": [{"host_port": 5432, "range": 1}]},
        {"Names": ["other"], "Ports": [{"host_port": 8000, "range": 10}]},
        {"Names": ["none"], "Ports": None},
    ]
    assert podman.publishers_of(containers, 5432) == ["datastorage-postgres"]
    assert podman.publishers_of(containers, 8009) == ["other"]
    assert podman.publishers_of(containers, 8010) == []


def test_parse_ldd():
    text = ("\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
            "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n")
    assert podman.parse_ldd(text) == ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]


def test_parse_machine_list():
    text = '[{"Name": "podman-machine-default*", "Running": true, "Default": true}, {"Name": "b", "Running": false}]'
    machines = podman.parse_machine_list(text)
    assert machines[0]["running"] is True and machines[1]["running"] is False
    assert podman.parse_machine_list("not json") == []


def test_summarize_info():
    info = {"host": {"cgroupVersion": "v1", "ociRuntime": {"name": "runc"}, "security": {"rootless": False}},
            "store": {"graphRoot": "/var/lib/containers/storage"}, "version": {"Version": "4.3.1"}}
    facts = podman.summarize_info(info)
    assert facts["runtime"] == "runc" and facts["rootless"] is False and facts["version"] == "4.3.1"


def test_is_owned_needs_both_labels():
    ours = {"io.kubernaut.devinfra.managed-by": "kubernaut.devinfra", "io.kubernaut.devinfra.instance": "dev"}
    assert podman.is_owned(ours, "dev") is True
    assert podman.is_owned(ours, "ci") is False
    assert podman.is_owned({"io.kubernaut.devinfra.instance": "dev"}, "dev") is False
    assert podman.is_owned(None, "dev") is False


def test_owned_resources_keep_only_items_with_both_labels():
    ours = {podman.MANAGED_BY_LABEL: podman.MANAGED_BY, podman.INSTANCE_LABEL: "ci"}
    half = {podman.INSTANCE_LABEL: "ci"}
    other = {podman.MANAGED_BY_LABEL: podman.MANAGED_BY, podman.INSTANCE_LABEL: "dev"}
    found = podman.owned_resources(
        [{"Id": "c1", "Names": ["pg-ci"], "Labels": ours}, {"Id": "c2", "Names": ["half"], "Labels": half},
         {"Id": "c3", "Names": ["pg-dev"], "Labels": other}, {"Id": "c4", "Names": ["plain"], "Labels": None}],
        [{"name": "net-ci", "id": "n1", "labels": ours}, {"name": "net-dev", "id": "n2", "labels": other}],
        [{"Name": "vol-ci", "Labels": ours}, {"Name": "vol-half", "Labels": half}, {"Name": "vol-x", "Labels": {}}],
        "ci")
    assert found == {"containers": [{"id": "c1", "name": "pg-ci"}],
                     "networks": [{"id": "n1", "name": "net-ci"}],
                     "volumes": [{"id": "vol-ci", "name": "vol-ci"}]}
    assert podman.owned_resources(None, None, None, "ci") == {"containers": [], "networks": [], "volumes": []}


# --------------------------------------------------------------------------- probe cache

FP_ARGS = dict(
    binaries={"podman": ("/usr/bin/podman", 100, 1), "conmon": ("/usr/bin/conmon", 5, 1), "runc": None,
              "crun": ("/usr/bin/crun", 7, 1)},
    conf_texts={"/etc/containers/containers.conf": None,
                "/etc/containers/containers.conf.d/50-kubernaut-devinfra.conf": '[engine]\nruntime = "runc"\n'},
    kernel="6.1.0", cgroup_mode="hybrid", hard_limits={"nofile": 20000, "nproc": 32768}, euid=0)


@pytest.mark.parametrize("change", [
    ("binaries", {"podman": ("/usr/bin/podman", 101, 1)}),          # podman upgraded
    ("binaries", {"runc": ("/usr/sbin/runc", 9, 2)}),               # runc installed
    ("conf_texts", {"/etc/containers/containers.conf": "[engine]\n"}),  # an admin's containers.conf
    ("conf_texts", {"/etc/containers/containers.conf.d/50-kubernaut-devinfra.conf": None}),  # drop-in removed
    ("kernel", "6.12.0"),
    ("cgroup_mode", "v2"),
    ("hard_limits", {"nofile": 1048576}),
    ("euid", 1000),
])
def test_probe_fingerprint_changes_with_everything_the_probe_depends_on(change):
    key, value = change
    changed = dict(FP_ARGS)
    changed[key] = dict(FP_ARGS[key], **value) if isinstance(value, dict) else value
    assert podman.probe_fingerprint(**changed) != podman.probe_fingerprint(**FP_ARGS)


def test_probe_fingerprint_is_stable():
    assert podman.probe_fingerprint(**FP_ARGS) == podman.probe_fingerprint(**dict(FP_ARGS))


def test_probe_cache_round_trip_and_every_kind_of_miss():
    fp = podman.probe_fingerprint(**FP_ARGS)
    path = "/etc/containers/containers.conf.d/50-kubernaut-devinfra.conf"
    text = podman.render_probe_cache(fp, path, {"runtime": "runc", "nofile": 20000})
    assert podman.cached_settings(text, fp, path) == {"runtime": "runc", "nofile": 20000}
    assert podman.cached_settings(podman.render_probe_cache(fp, path, {}), fp, path) == {}
    assert podman.cached_settings(text, "0" * 64, path) is None          # host changed
    assert podman.cached_settings(text, fp, "/root/.config/x.conf") is None  # other drop-in location
    for broken in (None, "", "not json", "[]", '{"fingerprint": "%s", "dropin_path": "%s"}' % (fp, path)):
        assert podman.cached_settings(broken, fp, path) is None


def test_conf_paths_lists_dropins_in_order_and_env_overrides():
    listing = {"/etc/containers/containers.conf.d": ["60-b.conf", "50-a.conf", "README"]}

    def listdir(d):
        if d not in listing:
            raise OSError(2, "missing")
        return listing[d]
    paths = podman.conf_paths("/home/u", {"CONTAINERS_CONF": "/opt/c.conf"}, listdir=listdir)
    assert "/home/u/.config/containers/containers.conf" in paths
    assert "/opt/c.conf" in paths
    assert paths[-2:] == ["/etc/containers/containers.conf.d/50-a.conf", "/etc/containers/containers.conf.d/60-b.conf"]
