-- Vendor adapters: controllers (managed devices) and the staged-change pipeline.
CREATE TABLE adapter_controllers (
  id                 text PRIMARY KEY,
  name               text NOT NULL,
  vendor             text NOT NULL CHECK (vendor IN ('linux', 'opnsense', 'routeros', 'openwrt')),
  base_url           text NOT NULL,
  -- AES-256-GCM: version byte ‖ 12-byte nonce ‖ 16-byte tag ‖ ciphertext; the row id is the AAD.
  credentials_sealed bytea NOT NULL,
  credential_fields  text[] NOT NULL,
  tls                jsonb NOT NULL,
  site               text,
  tags               text[] NOT NULL DEFAULT '{}',
  created_by         text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  deleted_at         timestamptz
);
CREATE UNIQUE INDEX adapter_controllers_name_live ON adapter_controllers (name) WHERE deleted_at IS NULL;

CREATE TABLE adapter_changes (
  id               text PRIMARY KEY,
  controller_id    text NOT NULL REFERENCES adapter_controllers (id),
  vendor           text NOT NULL,
  feature          text NOT NULL,
  operation        text NOT NULL,
  target_id        text,
  payload          jsonb NOT NULL,
  before           jsonb,
  after            jsonb,
  diff             jsonb NOT NULL DEFAULT '[]',
  risk             text NOT NULL,
  catastrophic     boolean NOT NULL,
  rollback_kind    text NOT NULL,
  status           text NOT NULL CHECK (status IN
                     ('staged', 'applying', 'applied', 'pending_confirm', 'rolled_back', 'failed', 'discarded')),
  comment          text,
  staged_by        jsonb NOT NULL,
  applied_by       jsonb,
  -- What undoes the change on the device (snapshot, savepoint revision, session), sealed like credentials.
  rollback_sealed  bytea,
  result           jsonb,
  error            jsonb,
  applying_since   timestamptz,
  applying_owner   text,
  confirm_deadline timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX adapter_changes_controller ON adapter_changes (controller_id, created_at DESC);
CREATE INDEX adapter_changes_status ON adapter_changes (status, created_at DESC);
-- One change at a time per controller: at most one applying or waiting for confirmation.
CREATE UNIQUE INDEX adapter_changes_one_active ON adapter_changes (controller_id)
  WHERE status IN ('applying', 'pending_confirm');
CREATE INDEX adapter_changes_deadline ON adapter_changes (confirm_deadline) WHERE status = 'pending_confirm';

CREATE TABLE adapter_change_history (
  id          bigserial PRIMARY KEY,
  change_id   text NOT NULL REFERENCES adapter_changes (id),
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  from_status text,
  to_status   text NOT NULL,
  actor       text NOT NULL,
  note        text
);
CREATE INDEX adapter_change_history_change ON adapter_change_history (change_id, id);
