-- Account hygiene: an account can be disabled; a session gets a public id (its token
-- hash never leaves the server), its last use, and the browser and address it came from.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE sessions ADD COLUMN id TEXT;
ALTER TABLE sessions ADD COLUMN last_used_at BIGINT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN client_addr TEXT;
UPDATE sessions SET id = md5(random()::text || token_hash) WHERE id IS NULL;
CREATE UNIQUE INDEX sessions_id ON sessions(id);
