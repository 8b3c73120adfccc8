-- Times are unix microseconds (BIGINT) and booleans BOOLEAN, so that one schema serves SQLite
-- and PostgreSQL alike.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    permissions   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE UNIQUE INDEX users_live_email ON users (tenant_id, email) WHERE deleted_at IS NULL;
CREATE INDEX users_tenant ON users (tenant_id, id);

-- credentials holds every kind of bearer secret (API keys, access keys, sessions) by hash, so
-- that resolving any secret is one indexed lookup.
CREATE TABLE credentials (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    kind           TEXT NOT NULL,
    owner_id       TEXT NOT NULL REFERENCES users (id),
    name           TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    application_id TEXT,
    hash           TEXT NOT NULL UNIQUE,
    display        TEXT NOT NULL,
    permissions    TEXT NOT NULL,
    active         BOOLEAN NOT NULL,
    expires_at     BIGINT,
    revoked_at     BIGINT,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE UNIQUE INDEX credentials_api_key_name ON credentials (tenant_id, name) WHERE kind = 'api_key';
CREATE INDEX credentials_owner ON credentials (owner_id);
CREATE INDEX credentials_expiry ON credentials (expires_at) WHERE expires_at IS NOT NULL;

-- audit_events is append-only: keyhaven never updates or deletes a row of it.
CREATE TABLE audit_events (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    at            BIGINT NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_user_id TEXT NOT NULL,
    action        TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    remote_addr   TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE credentials;
DROP TABLE users;
DROP TABLE tenants;
