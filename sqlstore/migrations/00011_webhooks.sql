-- +goose Up
-- webhooks are the tenants' endpoints for events. secret is the signing secret sealed with the
-- node's key (the sender signs with it); seq numbers the messages queued for the webhook, in
-- the order of the transactions that queued them, which hold its row to take a number.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL,
    secret      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    seq         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id, id);

-- webhook_messages are the outbox: each event, as its receivers get it, written in the
-- transaction of the change it announces.
CREATE TABLE webhook_messages (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_messages_by_age ON webhook_messages (created_at);

-- webhook_queue holds each message still to be delivered to a webhook, in the webhook's
-- order; a sender claims the first of a webhook's with a lease, as batch tasks are claimed.
CREATE TABLE webhook_queue (
    id          TEXT PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id  TEXT NOT NULL REFERENCES webhook_messages (id),
    seq         BIGINT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    owner       TEXT NOT NULL DEFAULT '',
    lease_until BIGINT
);
CREATE UNIQUE INDEX webhook_queue_order ON webhook_queue (webhook_id, seq);
CREATE INDEX webhook_queue_due ON webhook_queue (next_at);

-- webhook_attempts are the deliveries' history: one row per attempt.
CREATE TABLE webhook_attempts (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL REFERENCES webhook_messages (id),
    type       TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    at         BIGINT NOT NULL,
    status     INTEGER NOT NULL,
    error      TEXT NOT NULL,
    outcome    TEXT NOT NULL
);
CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, id);
CREATE INDEX webhook_attempts_by_message ON webhook_attempts (message_id);
CREATE INDEX webhook_attempts_by_age ON webhook_attempts (at);
CREATE INDEX webhook_queue_by_message ON webhook_queue (message_id);

-- credits_exceeded_at is when running out of a key's credits was announced (NULL: not since
-- they were set); expiry_notice is which expiry notices a key has had (0 none, 1 the 7-day
-- notice, 2 the 1-day notice). Each is written with a conditional update in the transaction
-- that writes the notice, so that it is announced once across nodes.
ALTER TABLE credentials ADD COLUMN credits_exceeded_at BIGINT;
ALTER TABLE credentials ADD COLUMN expiry_notice INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE credentials DROP COLUMN expiry_notice;
ALTER TABLE credentials DROP COLUMN credits_exceeded_at;
DROP TABLE webhook_attempts;
DROP TABLE webhook_queue;
DROP TABLE webhook_messages;
DROP TABLE webhooks;
