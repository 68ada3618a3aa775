-- DD-008's action history: one row per remediation action, with an embedding
-- of its context for semantic search (384 dimensions, e.g. all-MiniLM-L6-v2).
CREATE TABLE action_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace text NOT NULL,
    resource_kind text NOT NULL,
    resource_name text NOT NULL,
    action_type text NOT NULL,
    action_parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
    outcome text NOT NULL DEFAULT 'pending'
        CHECK (outcome IN ('pending', 'success', 'failure', 'skipped')),
    effectiveness_score double precision CHECK (effectiveness_score BETWEEN 0 AND 1),
    action_timestamp timestamptz NOT NULL DEFAULT now(),
    embedding vector(384)
);

CREATE INDEX action_history_resource_idx
    ON action_history (namespace, resource_kind, resource_name, action_timestamp DESC);
