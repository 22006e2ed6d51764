-- The high-volume tables checked each inserted row's tenant twice: against `tenants`, and
-- through (tenant_id, integration_id) against `integrations`, whose own tenant_id references
-- `tenants`. The second check implies the first, and deleting a tenant still removes these
-- rows (tenants -> integrations -> rows, all ON DELETE CASCADE). Each check is a query the
-- server runs per inserted row; a first sync's profile showed foreign-key checks at about
-- a sixth of PostgreSQL's time, so the redundant one goes.
ALTER TABLE raw_extraction_data DROP CONSTRAINT raw_extraction_data_tenant_id_fkey;
ALTER TABLE work_items DROP CONSTRAINT work_items_tenant_id_fkey;
ALTER TABLE changelogs DROP CONSTRAINT changelogs_tenant_id_fkey;
ALTER TABLE repositories DROP CONSTRAINT repositories_tenant_id_fkey;
ALTER TABLE prs DROP CONSTRAINT prs_tenant_id_fkey;
ALTER TABLE pr_commits DROP CONSTRAINT pr_commits_tenant_id_fkey;
ALTER TABLE pr_reviews DROP CONSTRAINT pr_reviews_tenant_id_fkey;
ALTER TABLE pr_comments DROP CONSTRAINT pr_comments_tenant_id_fkey;
