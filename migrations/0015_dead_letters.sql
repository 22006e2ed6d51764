-- Each tenant's dead-lettered messages, written when a worker dead-letters one and removed
-- when it is requeued or purged: the tenant's count is read here, never by taking messages
-- off the failed queue all tenants share.
CREATE TABLE dead_letters (
    tenant_id         BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_sha256    BYTEA NOT NULL,
    stage             TEXT NOT NULL,
    error             TEXT NOT NULL,
    dead_lettered_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, message_sha256)
);
