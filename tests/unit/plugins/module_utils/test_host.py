from ansible_collections.kubernaut.devinfra.plugins.module_utils import host

HYBRID_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
"""
V1_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
"""
V2_MOUNTS = """\
proc /proc proc rw 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0
"""

LIMITS = """\
Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             96365                96365                processes
Max open files            1024                 20000                files
"""

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 0 10 0
   1: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 0 10 0
   2: 0100007F:1538 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4444 1 0 0 10 0
"""


def test_cgroup_modes():
    assert host.cgroup_mode_from_mounts(HYBRID_MOUNTS) == host.CGROUP_HYBRID
    assert host.cgroup_mode_from_mounts(V1_MOUNTS) == host.CGROUP_V1
    assert host.cgroup_mode_from_mounts(V2_MOUNTS) == host.CGROUP_V2


def test_parse_limits_reads_soft_and_hard():
    limits = host.parse_limits(LIMITS)
    assert limits["nofile"] == (1024, 20000)
    assert limits["nproc"] == (96365, 96365)


def test_parse_limits_unlimited_is_none():
    limits = host.parse_limits("Max open files            unlimited            unlimited            files\n")
    assert limits["nofile"] == (None, None)


def test_listen_sockets_for_port_only_in_listen_state():
    # 0x1538 = 5432; the established connection (state 01) is not a listener
    assert host.parse_proc_net_tcp(PROC_NET_TCP, 5432) == [("0100007F", 4242)]
    assert host.parse_proc_net_tcp(PROC_NET_TCP, 6379) == [("00000000", 4343)]
    assert host.parse_proc_net_tcp(PROC_NET_TCP, 1) == []


def test_hex_to_ip():
    assert host.hex_to_ip("0100007F") == "127.0.0.1"
    assert host.hex_to_ip("00000000") == "0.0.0.0"
    assert host.hex_to_ip("00000000000000000000000001000000") == "::1"


def test_port_is_free_sees_a_listener():
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    port = sock.getsockname()[1]
    try:
        assert host.port_is_free("127.0.0.1", port) is False
        owners = host.listeners(port)
        assert any(owner[1] is not None for owner in owners)
    finally:
        sock.close()
    assert host.port_is_free("127.0.0.1", port) is True
