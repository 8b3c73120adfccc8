-- +goose Up
-- signing_keys are the tenants' keys for signing access tokens: the public half as a JWK in
-- clear, the private half sealed. At most one key of a tenant is active (not retired).
CREATE TABLE signing_keys (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    alg            TEXT NOT NULL,
    public_jwk     TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    retired_at     BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (tenant_id) WHERE retired_at IS NULL;
CREATE INDEX signing_keys_by_tenant ON signing_keys (tenant_id, created_at);

-- revoked_tokens are access tokens revoked before they expire, by jti.
CREATE TABLE revoked_tokens (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);

ALTER TABLE tenants ADD COLUMN access_token_lifetime INTEGER NOT NULL DEFAULT 300;

-- +goose Down
ALTER TABLE tenants DROP COLUMN access_token_lifetime;
DROP TABLE revoked_tokens;
DROP TABLE signing_keys;
