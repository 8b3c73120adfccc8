-- +goose Up
-- usage_counts are the uses of credentials counted per outcome (a verdict code) in buckets of
-- a granularity (MINUTE, HOUR, DAY) starting at period_start (unix microseconds, aligned in
-- UTC). Rows of credential_id '' are the tenant's totals: every use counted in the tenant,
-- those that named none of its credentials included. Flushes only ever add to uses.
CREATE TABLE usage_counts (
    tenant_id     TEXT NOT NULL,
    granularity   TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    period_start  BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    uses          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, granularity, credential_id, period_start, outcome)
);
-- The most used credentials of a tenant in a period.
CREATE INDEX usage_counts_by_period ON usage_counts (tenant_id, granularity, period_start);
-- Garbage collection of the buckets past their retention.
CREATE INDEX usage_counts_by_age ON usage_counts (granularity, period_start);

-- usage_flushes are the flushes added, by id, so that a retried flush adds nothing twice.
CREATE TABLE usage_flushes (
    id       TEXT PRIMARY KEY,
    added_at BIGINT NOT NULL
);
CREATE INDEX usage_flushes_by_age ON usage_flushes (added_at);

-- +goose Down
DROP TABLE usage_flushes;
DROP TABLE usage_counts;
