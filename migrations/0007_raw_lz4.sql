-- Raw API documents are large and written once: compress them with lz4 where the server
-- has it (PostgreSQL 14+ built with lz4). pglz took a fifth of the server's time in a large
-- sync; lz4 compresses several times faster at a similar ratio for JSON.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE raw_extraction_data ALTER COLUMN raw_data SET COMPRESSION lz4;
    END IF;
END
$$;
