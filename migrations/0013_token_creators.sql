-- Who made each API token: the signed-in user, or the token a script made it with. Disabling
-- a user revokes every token they made, directly or through tokens they made.
ALTER TABLE api_tokens
    ADD COLUMN created_by_user BIGINT REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN created_by_token BIGINT REFERENCES api_tokens (id) ON DELETE SET NULL;
CREATE INDEX api_tokens_created_by_user_idx ON api_tokens (tenant_id, created_by_user);
CREATE INDEX api_tokens_created_by_token_idx ON api_tokens (tenant_id, created_by_token);
