-- Account hygiene: an account can be disabled; a session gets a public id (its token
-- hash never leaves the server), its last use, and the browser and address it came from.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE sessions ADD COLUMN id TEXT;
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN client_addr TEXT;
UPDATE sessions SET id = lower(hex(randomblob(16))) WHERE id IS NULL;
CREATE UNIQUE INDEX sessions_id ON sessions(id);
