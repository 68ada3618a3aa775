-- Per-step traces of actions, partitioned by month on action_timestamp so old
-- months can be detached cheaply. Rows outside the listed months land in the
-- default partition instead of failing.
CREATE TABLE resource_action_traces (
    id bigint GENERATED ALWAYS AS IDENTITY,
    action_history_id bigint NOT NULL REFERENCES action_history (id) ON DELETE CASCADE,
    step text NOT NULL,
    status text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    action_timestamp timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, action_timestamp)
) PARTITION BY RANGE (action_timestamp);

CREATE TABLE resource_action_traces_y2025m09 PARTITION OF resource_action_traces
    FOR VALUES FROM ('2025-09-01 00:00:00+00') TO ('2025-10-01 00:00:00+00');
CREATE TABLE resource_action_traces_y2025m10 PARTITION OF resource_action_traces
    FOR VALUES FROM ('2025-10-01 00:00:00+00') TO ('2025-11-01 00:00:00+00');
CREATE TABLE resource_action_traces_default PARTITION OF resource_action_traces DEFAULT;

CREATE INDEX resource_action_traces_history_idx
    ON resource_action_traces (action_history_id, action_timestamp);
