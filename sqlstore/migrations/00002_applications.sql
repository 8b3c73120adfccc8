-- +goose Up
ALTER TABLE tenants ADD COLUMN max_applications INTEGER NOT NULL DEFAULT 10;
ALTER TABLE tenants ADD COLUMN max_access_keys INTEGER NOT NULL DEFAULT 10;

CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE UNIQUE INDEX applications_live_name ON applications (tenant_id, name) WHERE revoked_at IS NULL;
CREATE INDEX applications_tenant ON applications (tenant_id, id);
CREATE INDEX applications_creator ON applications (created_by);

CREATE UNIQUE INDEX credentials_access_key_name ON credentials (application_id, name)
    WHERE kind = 'access_key' AND revoked_at IS NULL;
CREATE INDEX credentials_application ON credentials (application_id, id) WHERE application_id IS NOT NULL;

-- +goose Down
DROP INDEX credentials_application;
DROP INDEX credentials_access_key_name;
DROP TABLE applications;
ALTER TABLE tenants DROP COLUMN max_access_keys;
ALTER TABLE tenants DROP COLUMN max_applications;
