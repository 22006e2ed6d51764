-- The Jira issues an integration's incident JQL finds, by issue id: replaced whole at each
-- sync (issues that stop matching leave it). Kept apart from `work_items` so that issues
-- loaded after the query ran still join it.
CREATE TABLE jql_incidents (
    tenant_id       BIGINT NOT NULL,
    integration_id  BIGINT NOT NULL,
    external_id     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, integration_id, external_id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE
);
