# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""Facts about the target host read from /proc and /sys: pure parsers plus
thin readers, so every decision can be unit-tested with injected text."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError

CGROUP_V1 = "v1"
CGROUP_V2 = "v2"
CGROUP_HYBRID = "hybrid"


def cgroup_mode_from_mounts(mounts_text):
    """Return v1, v2 or hybrid from the text of /proc/self/mounts.

    v2 (unified): /sys/fs/cgroup itself is cgroup2. hybrid: v1 controllers with
    a cgroup2 mount at /sys/fs/cgroup/unified. v1: only v1 controller mounts.
    """
    has_v1 = False
    unified_at_root = False
    unified_elsewhere = False
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mountpoint, fstype = fields[1], fields[2]
        if fstype == "cgroup2":
            if mountpoint == "/sys/fs/cgroup":
                unified_at_root = True
            else:
                unified_elsewhere = True
        elif fstype == "cgroup":
            has_v1 = True
    if unified_at_root and not has_v1:
        return CGROUP_V2
    if has_v1 and unified_elsewhere:
        return CGROUP_HYBRID
    if has_v1:
        return CGROUP_V1
    return CGROUP_V2 if unified_at_root else "unknown"


def parse_limits(limits_text):
    """Parse /proc/<pid>/limits into {'nofile': (soft, hard), 'nproc': (soft, hard)}.

    'unlimited' becomes None.
    """
    names = {"Max open files": "nofile", "Max processes": "nproc"}
    out = {}
    for line in limits_text.splitlines():
        for label, key in names.items():
            if line.startswith(label):
                parts = line[len(label):].split()
                soft, hard = parts[0], parts[1]
                out[key] = (None if soft == "unlimited" else int(soft),
                            None if hard == "unlimited" else int(hard))
    return out


def parse_proc_net_tcp(text, port):
    """Inodes of LISTEN sockets on ``port`` from /proc/net/tcp or tcp6 text.

    Returns [(address, inode)] where address is the local address in hex
    ('0100007F' is 127.0.0.1; all zeros is the wildcard).
    """
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, state, inode = fields[1], fields[3], fields[9]
        addr, hexport = local.split(":", 1)
        if state == "0A" and int(hexport, 16) == port:
            found.append((addr, int(inode)))
    return found


def hex_to_ip(addr):
    """'0100007F' -> '127.0.0.1'; 32-hex-digit IPv6 addresses -> compressed form."""
    raw = bytes(bytearray.fromhex(addr))
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc/net/tcp6 stores four 32-bit words, each little-endian
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def read_text(path, default=""):
    try:
        with open(path) as fh:
            return fh.read()
    except (IOError, OSError):
        return default


def socket_owner(inode, proc="/proc"):
    """(pid, command) of the process holding socket ``inode``, or (None, None)."""
    target = "socket:[%d]" % inode
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return None, None
    for pid in pids:
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == target:
                    comm = read_text(os.path.join(proc, pid, "comm")).strip()
                    return int(pid), comm
            except OSError:
                continue
    return None, None


def port_is_free(address, port):
    """Whether a TCP listener could bind ``address:port`` right now."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((address, port))
        return True
    except socket.error as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        if exc.errno == errno.EADDRNOTAVAIL:
            raise DevinfraError(
                "Address %s is not an address of this host, so port %d cannot be published on it."
                % (address, port),
                hint="Use 127.0.0.1 (the default) or one of the host's own addresses.")
        raise
    finally:
        sock.close()


def listeners(port, proc="/proc"):
    """[(ip, pid, command)] of processes listening on TCP ``port``."""
    out = []
    for name in ("tcp", "tcp6"):
        for addr, inode in parse_proc_net_tcp(read_text(os.path.join(proc, "net", name)), port):
            pid, comm = socket_owner(inode, proc)
            out.append((hex_to_ip(addr), pid, comm))
    return out


def free_bytes(path):
    """Free bytes for unprivileged writers at ``path`` (or its nearest existing parent)."""
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path or "/")
    return st.f_bavail * st.f_frsize
