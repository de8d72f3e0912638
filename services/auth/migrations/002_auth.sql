-- Identity (sessions, refresh tokens, MFA, password resets, login failures, signing keys)
-- and the hash-chained audit log.

ALTER TABLE users ADD COLUMN mfa_secret_sealed bytea;
ALTER TABLE users ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();

-- Browser sessions: the cookie carries `<id>.<secret>`; we keep SHA-256(secret).
CREATE TABLE sessions (
  id           text PRIMARY KEY,
  user_id      text NOT NULL REFERENCES users (id),
  secret_hash  bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  source_ip    text,
  user_agent   text,
  revoked_at   timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens, rotated on use; a family is one login's chain of rotations.
CREATE TABLE refresh_tokens (
  id          text PRIMARY KEY,
  family_id   text NOT NULL,
  user_id     text NOT NULL REFERENCES users (id),
  token_hash  bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  rotated_at  timestamptz,
  revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_families (
  id         text PRIMARY KEY,
  user_id    text NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Login of an MFA user: the password step leaves a challenge, the TOTP step consumes it.
CREATE TABLE mfa_challenges (
  id          text PRIMARY KEY,
  secret_hash bytea NOT NULL,
  user_id     text NOT NULL REFERENCES users (id),
  purpose     text NOT NULL CHECK (purpose IN ('session', 'token')),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  attempts    integer NOT NULL DEFAULT 0
);

CREATE TABLE password_resets (
  token_hash bytea PRIMARY KEY,
  user_id    text NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);

-- Failed logins per username (brute-force lock), shared by every auth instance.
CREATE TABLE login_failures (
  username text NOT NULL,
  at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_user_at ON login_failures (username, at);

-- Ed25519 keys: `jwt` signs access tokens, `audit` signs checkpoints. The private key is
-- sealed (AES-256-GCM, key derived from the pepper): a database dump alone cannot sign.
CREATE TABLE signing_keys (
  id              text PRIMARY KEY,
  purpose         text NOT NULL CHECK (purpose IN ('jwt', 'audit')),
  public_jwk      jsonb NOT NULL,
  private_sealed  bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  retired_at      timestamptz
);
CREATE UNIQUE INDEX signing_keys_active ON signing_keys (purpose) WHERE retired_at IS NULL;

-- The audit log: appended only by the single writer, in order, hash-chained.
-- row_hash = SHA-256(prev_hash ‖ canonical JSON of every other column); see audit-chain.ts.
CREATE TABLE audit_log (
  seq         bigint PRIMARY KEY,
  event_id    text NOT NULL UNIQUE,
  time        timestamptz NOT NULL,
  actor_type  text NOT NULL,
  actor_id    text,
  actor_name  text,
  action      text NOT NULL,
  category    text NOT NULL,
  target_type text,
  target_id   text,
  result      text NOT NULL,
  request_id  text,
  source_ip   text,
  summary     text NOT NULL,
  prev_hash   bytea NOT NULL,
  row_hash    bytea NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_actor ON audit_log (actor_id);
CREATE INDEX audit_log_action ON audit_log (action);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);

-- Signed checkpoints: every N rows or M minutes, Ed25519 over (seq, row_hash, signed_at).
CREATE TABLE audit_checkpoints (
  seq        bigint PRIMARY KEY,
  row_hash   bytea NOT NULL,
  signed_at  timestamptz NOT NULL,
  key_id     text NOT NULL,
  signature  bytea NOT NULL
);

-- Where the writer is in the AUDIT stream, updated in the same transaction as the rows.
CREATE TABLE audit_writer_state (
  id         boolean PRIMARY KEY DEFAULT true CHECK (id),
  stream_seq bigint NOT NULL
);
