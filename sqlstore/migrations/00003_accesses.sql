-- +goose Up
CREATE TABLE product_offerings (
    tenant_id            TEXT NOT NULL REFERENCES tenants (id),
    id                   TEXT NOT NULL,
    name                 TEXT NOT NULL,
    access_validity_days INTEGER NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE contracts (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    product_offering_id TEXT NOT NULL,
    customer_name       TEXT NOT NULL DEFAULT '',
    start_at            BIGINT NOT NULL,
    end_at              BIGINT NOT NULL,
    status              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- batch_secret holds a batch-created access's sealed password until its task's retention
-- window ends; created_by is a user id or, for batch-created accesses, the task id.
CREATE TABLE accesses (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    contract_id         TEXT NOT NULL,
    product_offering_id TEXT NOT NULL,
    device_name         TEXT NOT NULL,
    username            TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    status              TEXT NOT NULL,
    valid_from          BIGINT NOT NULL,
    valid_until         BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    created_by          TEXT NOT NULL,
    batch_seq           INTEGER NOT NULL DEFAULT 0,
    batch_secret        TEXT
);
CREATE UNIQUE INDEX accesses_username ON accesses (tenant_id, username);
CREATE INDEX accesses_tenant ON accesses (tenant_id, id);
CREATE INDEX accesses_contract ON accesses (tenant_id, contract_id, id);
CREATE INDEX accesses_created_by ON accesses (created_by, batch_seq);

CREATE TABLE batch_tasks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    contract_id TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    requested   INTEGER NOT NULL,
    processed   INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    input       TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL DEFAULT '',
    lease_until BIGINT,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    purged_at   BIGINT
);
CREATE INDEX batch_tasks_state ON batch_tasks (state, created_at);

CREATE TABLE batch_errors (
    task_id TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    code    TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (task_id, idx)
);

-- idempotency_keys remembers the first answer to a creating request sent with an
-- Idempotency-Key, sealed (it may hold a password or key), for 24 hours.
CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    response     TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE batch_errors;
DROP TABLE batch_tasks;
DROP TABLE accesses;
DROP TABLE contracts;
DROP TABLE product_offerings;
