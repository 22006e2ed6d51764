-- E-mail addresses are unique within a tenant, not across the service: a tenant creating a
-- user learns nothing of other tenants' users. Sign-in finds the account by e-mail and
-- password (and the tenant, when the same pair would open accounts in several).
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));
CREATE INDEX users_email_idx ON users (lower(email));
