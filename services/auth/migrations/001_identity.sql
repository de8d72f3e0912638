-- Identity: users, API keys, first-run setup.
CREATE TABLE users (
  id            text PRIMARY KEY,
  username      text NOT NULL,
  password_hash text NOT NULL,
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'operator', 'viewer')),
  resources     jsonb,
  token_version integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz
);
-- A username is unique among live users; a soft-deleted name can be reused.
CREATE UNIQUE INDEX users_username_live ON users (username) WHERE deleted_at IS NULL;

CREATE TABLE api_keys (
  id             text PRIMARY KEY,
  user_id        text NOT NULL REFERENCES users (id),
  name           text NOT NULL,
  description    text NOT NULL DEFAULT '',
  prefix         text NOT NULL UNIQUE,
  secret_hash    bytea NOT NULL,
  scopes         text[] NOT NULL,
  resources      jsonb,
  rate_limit_rpm integer,
  expires_at     timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_used_at   timestamptz,
  revoked_at     timestamptz
);
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE revoked_at IS NULL;

-- A single row: the hash of the one-time setup token and when setup completed.
CREATE TABLE setup_state (
  id           boolean PRIMARY KEY DEFAULT true CHECK (id),
  token_hash   bytea,
  completed_at timestamptz
);
INSERT INTO setup_state (id) VALUES (true);
