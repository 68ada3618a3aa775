-- Approximate nearest-neighbour search on the embedding (cosine distance, `<=>`).
-- Built in the migration's transaction: the table is new and empty, so
-- CONCURRENTLY (which would need -- devinfra:no-transaction) buys nothing.
CREATE INDEX action_history_embedding_hnsw_idx
    ON action_history USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 64);
