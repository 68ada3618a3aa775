# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options; matches module_utils.redis.redis_argument_spec(with_db=False).
    DOCUMENTATION = r"""
options:
  host:
    description:
      - Host name or address Redis listens on (the published address, normally loopback).
    type: str
    default: 127.0.0.1
  port:
    description:
      - TCP port Redis listens on.
    type: int
    default: 6379
  password:
    description:
      - Password for C(AUTH), when the server has C(requirepass) set. Never logged.
    type: str
  connect_timeout:
    description:
      - Seconds to wait for the TCP connection and for each reply.
    type: float
    default: 5.0
requirements:
  - redis (the redis-py Python package) on the target
"""

    # The database option, for modules that work in one database.
    DB = r"""
options:
  db:
    description:
      - Database index to connect to.
    type: int
    default: 0
"""
