from ansible_collections.kubernaut.devinfra.plugins.module_utils import debootstrap
from ansible_collections.kubernaut.devinfra.plugins.module_utils.podman import INPUTS_HASH_LABEL


def test_inputs_hash_is_stable_and_order_free():
    a = debootstrap.inputs_hash("trixie", "minbase", "http://m", ["b", "a"])
    b = debootstrap.inputs_hash("trixie", "minbase", "http://m", ["a", "b"])
    assert a == b
    assert a != debootstrap.inputs_hash("bookworm", "minbase", "http://m", ["a", "b"])


def test_plan():
    h = "abc"
    assert debootstrap.plan(None, h, False) == "absent"
    assert debootstrap.plan({INPUTS_HASH_LABEL: "other"}, h, False) == "stale"
    assert debootstrap.plan({INPUTS_HASH_LABEL: h}, h, False) == "current"
    assert debootstrap.plan({INPUTS_HASH_LABEL: h}, h, True) == "stale"


def test_argv():
    argv = debootstrap.debootstrap_argv("/usr/sbin/debootstrap", "trixie", "/t", "minbase", "http://m", ["ca-certificates"])
    assert argv == ["/usr/sbin/debootstrap", "--variant=minbase", "--include=ca-certificates", "trixie", "/t", "http://m"]
    imp = debootstrap.import_argv("/t.tar", "localhost/x:y", {"k": "v"})
    assert imp[:3] == ["import", "--change", "LABEL k=v"] and imp[-2:] == ["/t.tar", "localhost/x:y"]
