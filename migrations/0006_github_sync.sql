-- What incremental GitHub syncs remember between runs, and the join of Jira work items to
-- the pull requests their development panel names.

-- The ETag of a listing's first page, sent back as If-None-Match: a 304 costs no quota and
-- means nothing in the listing changed. Saved only after a run loaded what the page named.
CREATE TABLE source_etags (
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    integration_id  BIGINT NOT NULL,
    -- The listing, without parameters that change every run (such as `since`).
    resource        TEXT NOT NULL,
    etag            TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, integration_id, resource)
);

-- Work items and the loaded pull requests their Jira development panel links to (any
-- GitHub integration of the same tenant).
CREATE VIEW work_item_prs AS
SELECT l.tenant_id,
       l.work_item_id,
       p.id AS pr_id,
       l.pr_url,
       l.pr_status
FROM work_item_pr_links l
JOIN repositories r ON r.tenant_id = l.tenant_id AND r.full_name = l.repository_full_name
JOIN prs p ON p.tenant_id = l.tenant_id AND p.repository_id = r.id AND p.number = l.pr_number;
