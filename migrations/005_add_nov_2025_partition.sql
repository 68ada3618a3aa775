-- DD-008's 999_add_nov_2025_partition.sql: the month the tests write into.
-- Numbered 005, not 999, so that later reference migrations are not "older
-- than the newest applied" (postgres_migrate refuses out-of-order files).
CREATE TABLE resource_action_traces_y2025m11 PARTITION OF resource_action_traces
    FOR VALUES FROM ('2025-11-01 00:00:00+00') TO ('2025-12-01 00:00:00+00');
