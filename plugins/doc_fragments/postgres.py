# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches postgres_argument_spec() in plugins/module_utils/postgres.py.
    DOCUMENTATION = r"""
options:
  host:
    description:
      - Host name or address the PostgreSQL server is published on.
    type: str
    default: 127.0.0.1
  port:
    description:
      - TCP port on O(host). Must be between 1 and 65535.
    type: int
    default: 5432
  user:
    description:
      - Role to connect as (the application user, DD-008's C(slm_user)).
    type: str
    default: slm_user
  password:
    description:
      - Password of O(user). When omitted, libpq's usual sources apply (C(PGPASSWORD), C(~/.pgpass)).
    type: str
  database:
    description:
      - The application database (DD-008's C(action_history)).
    type: str
    default: action_history
  connect_timeout:
    description:
      - Seconds to wait for one TCP connection and authentication. libpq treats values below 2 as 2.
    type: int
    default: 5
requirements:
  - psycopg2 (or psycopg2-binary) on the target host
notes:
  - Every connection sets C(application_name) to C(kubernaut.devinfra <module>), so sessions and lock holders
    can be identified in C(pg_stat_activity).
"""
