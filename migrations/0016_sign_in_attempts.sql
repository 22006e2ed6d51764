-- Sign-in attempts, counted where every `serve` replica sees them: per key (the SHA-256 of a
-- client address and account, or of a client address alone; no address or e-mail is
-- stored) in fixed windows.
CREATE TABLE sign_in_attempts (
    key_sha256      BYTEA PRIMARY KEY,
    attempts        INTEGER NOT NULL,
    window_started  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_attempts_window_idx ON sign_in_attempts (window_started);
