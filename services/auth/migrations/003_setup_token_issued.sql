-- When the current setup token was issued: a second auth instance starting alongside the
-- first must not replace a token the first one just printed.
ALTER TABLE setup_state ADD COLUMN token_issued_at timestamptz;
