-- Embedding: each tenant's embedding settings, one row per collection (the `active` one
-- search reads; a `building` one for a new model, filled beside it and switched to when
-- complete), what the bridge knows of each vector, and records whose embedding failed.

CREATE TABLE embedding_settings (
    tenant_id          BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- pulse_t{tenant}_{model slug}
    collection         TEXT NOT NULL,
    provider           TEXT NOT NULL CHECK (provider IN ('local', 'openai')),
    model              TEXT NOT NULL,
    -- The OpenAI-compatible endpoint (provider openai).
    base_url           TEXT,
    -- The endpoint's API key, sealed with the credentials key.
    api_key_encrypted  BYTEA,
    state              TEXT NOT NULL CHECK (state IN ('building', 'active')),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at       TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, collection)
);
-- At most one active and one building collection per tenant.
CREATE UNIQUE INDEX embedding_settings_state_idx ON embedding_settings (tenant_id, state);

-- One vector per record and collection (a model change builds a second collection beside
-- the first). `row_updated_at`: the record row's updated_at the vector was made from;
-- `text_hash`: SHA-256 of the text embedded (unchanged text is not embedded again).
ALTER TABLE qdrant_vectors
    ADD COLUMN model TEXT,
    ADD COLUMN text_hash TEXT,
    ADD COLUMN row_updated_at TIMESTAMPTZ,
    DROP CONSTRAINT qdrant_vectors_tenant_id_table_name_record_id_vector_type_key,
    ADD CONSTRAINT qdrant_vectors_record_key UNIQUE (tenant_id, table_name, record_id, collection);

-- Records the provider could not embed, as of their row's updated_at: not retried until
-- the record changes again (or `vectors rebuild`), counted as failed meanwhile.
CREATE TABLE embedding_failures (
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    table_name      TEXT NOT NULL,
    record_id       BIGINT NOT NULL,
    collection      TEXT NOT NULL,
    row_updated_at  TIMESTAMPTZ NOT NULL,
    job_id          BIGINT,
    error           TEXT NOT NULL,
    failed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, table_name, record_id, collection)
);
