-- Ed25519 agent identities (spec/SPEC-identity.md).
--
-- `identity` is 'hmac' (SPEC §2, the default) or 'ed25519'. An Ed25519 agent has no
-- HMAC secret: `secret_sealed` becomes nullable (SQLite cannot drop a NOT NULL, so the
-- column is copied into a nullable one; DROP COLUMN rewrites the rows but touches no
-- other table) and holds NULL for it. `public_key` is its `ocf_pk_…` key once enrolled
-- (a public value), `enrolled_at` when.
ALTER TABLE agents ADD COLUMN secret_sealed_nullable TEXT;
UPDATE agents SET secret_sealed_nullable = secret_sealed;
ALTER TABLE agents DROP COLUMN secret_sealed;
ALTER TABLE agents RENAME COLUMN secret_sealed_nullable TO secret_sealed;

ALTER TABLE agents ADD COLUMN identity TEXT NOT NULL DEFAULT 'hmac';
ALTER TABLE agents ADD COLUMN public_key TEXT;
ALTER TABLE agents ADD COLUMN enrolled_at INTEGER;

-- Enrollment tokens: only their SHA-256 is kept; spent (deleted) on use, and every
-- earlier token of the agent is deleted when a new one is issued.
CREATE TABLE enrollment_tokens (
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX enrollment_tokens_agent ON enrollment_tokens(agent_id);
