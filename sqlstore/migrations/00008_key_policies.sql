-- +goose Up
-- Key policies (API keys and access keys alike). The credits live on the credential's row:
-- a verification takes them with one conditional UPDATE of it.
ALTER TABLE credentials ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN rate_limit BIGINT;
ALTER TABLE credentials ADD COLUMN rate_period BIGINT;
ALTER TABLE credentials ADD COLUMN credits_remaining BIGINT;
ALTER TABLE credentials ADD COLUMN credits_refill_amount BIGINT;
ALTER TABLE credentials ADD COLUMN credits_refill_interval TEXT;
ALTER TABLE credentials ADD COLUMN credits_refilled_at BIGINT;
ALTER TABLE credentials ADD COLUMN meta TEXT;

-- retired_secrets are a rotated credential's former secrets: each resolves to its credential
-- until expires_at (the grace period's end), and to EXPIRED after.
CREATE TABLE retired_secrets (
    hash          TEXT PRIMARY KEY,
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX retired_secrets_credential ON retired_secrets (credential_id);
CREATE INDEX retired_secrets_expiry ON retired_secrets (expires_at);

-- rate_windows count the uses of rate-limited keys per fixed window, for nodes that lease
-- from them (package ratelimit).
CREATE TABLE rate_windows (
    rate_key     TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    PRIMARY KEY (rate_key, window_start)
);
CREATE INDEX rate_windows_start ON rate_windows (window_start);

-- +goose Down
DROP TABLE rate_windows;
DROP TABLE retired_secrets;
ALTER TABLE credentials DROP COLUMN meta;
ALTER TABLE credentials DROP COLUMN credits_refilled_at;
ALTER TABLE credentials DROP COLUMN credits_refill_interval;
ALTER TABLE credentials DROP COLUMN credits_refill_amount;
ALTER TABLE credentials DROP COLUMN credits_remaining;
ALTER TABLE credentials DROP COLUMN rate_period;
ALTER TABLE credentials DROP COLUMN rate_limit;
ALTER TABLE credentials DROP COLUMN ip_allowlist;
