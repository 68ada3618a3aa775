"""A small integration suite of the kind DD-008 serves, reading ONLY the manifest.

Run by test_full_stack.py as `pytest <this file>` with DEVINFRA_MANIFEST set to
a connection.json. It proves the contract: each suite has its own database
(pgvector similarity works there) and its own Redis index (isolated from the
other suite's).
"""

import json
import os

import psycopg2
import pytest
import redis

MANIFEST = json.load(open(os.environ["DEVINFRA_MANIFEST"]))
SUITES = sorted(MANIFEST["suites"])


@pytest.mark.parametrize("suite", SUITES)
def test_pgvector_nearest_neighbour_in_the_suites_own_database(suite):
    conn = psycopg2.connect(MANIFEST["suites"][suite]["database_url"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone()[0] == MANIFEST["suites"][suite]["database"]
        cur.execute("CREATE TABLE IF NOT EXISTS sample_items (id int PRIMARY KEY, embedding vector(3))")
        cur.execute("INSERT INTO sample_items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]') "
                    "ON CONFLICT DO NOTHING")
        cur.execute("SELECT id FROM sample_items ORDER BY embedding <-> '[0.1,0.9,0]' LIMIT 1")
        assert cur.fetchone()[0] == 2
        cur.execute("INSERT INTO sample_items VALUES (%s, '[1,1,1]') ON CONFLICT DO NOTHING",
                    (100 + SUITES.index(suite),))
    conn.close()


def test_redis_isolation_between_suites():
    first, second = SUITES[0], SUITES[1]
    a = redis.Redis.from_url(MANIFEST["suites"][first]["redis_url"])
    b = redis.Redis.from_url(MANIFEST["suites"][second]["redis_url"])
    a.set("sample:key", first)
    b.set("sample:other", second)
    assert b.get("sample:key") is None
    assert a.get("sample:key") == first.encode()
    assert a.get("sample:other") is None
