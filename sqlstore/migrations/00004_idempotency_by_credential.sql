-- +goose Up
-- Idempotent replays are keyed by the calling credential, not its owner user, and remember
-- the credential's effective permissions when the first request was made, so that a replay
-- is authorized like a new request. Keys remembered under the old scheme are forgotten: a
-- retry across the upgrade is a new request.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys RENAME COLUMN user_id TO credential_id;
ALTER TABLE idempotency_keys ADD COLUMN permissions TEXT NOT NULL DEFAULT '';

-- +goose Down
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys DROP COLUMN permissions;
ALTER TABLE idempotency_keys RENAME COLUMN credential_id TO user_id;
