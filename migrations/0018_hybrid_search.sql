-- Hybrid search: every point now carries a sparse lexical vector (the record's words) beside
-- its dense one, and payload fields for the new filters. Collections made before lack both,
-- so each is rebuilt under the new name `pulse_h_t{tenant}_{model slug}`:
-- - an active pre-hybrid collection gets a successor being built (unless the tenant is
--   already building one); search keeps reading the old one, by meaning only, until the
--   successor is complete, then switches to it and drops the old one;
-- - a pre-hybrid collection being built is renamed and starts again from nothing (its
--   points lack the lexical vector).
DELETE FROM qdrant_vectors v USING embedding_settings e
WHERE v.tenant_id = e.tenant_id AND v.collection = e.collection
  AND e.state = 'building' AND e.collection LIKE 'pulse\_t%';
DELETE FROM embedding_failures f USING embedding_settings e
WHERE f.tenant_id = e.tenant_id AND f.collection = e.collection
  AND e.state = 'building' AND e.collection LIKE 'pulse\_t%';
UPDATE embedding_settings SET collection = 'pulse_h_' || substr(collection, 7)
WHERE state = 'building' AND collection LIKE 'pulse\_t%';

INSERT INTO embedding_settings (tenant_id, collection, provider, model, base_url, api_key_encrypted, state)
SELECT e.tenant_id, 'pulse_h_' || substr(e.collection, 7), e.provider, e.model, e.base_url,
       e.api_key_encrypted, 'building'
FROM embedding_settings e
WHERE e.state = 'active' AND e.collection LIKE 'pulse\_t%'
  AND NOT EXISTS (SELECT 1 FROM embedding_settings b
                  WHERE b.tenant_id = e.tenant_id AND b.state = 'building');
