-- pgvector, which PostgreSQL calls `vector`. The image must ship it
-- (docker.io/pgvector/pgvector:pg17 or localhost/kubernaut-devinfra/postgres-pgvector:17).
CREATE EXTENSION IF NOT EXISTS vector;
