-- +goose Up
-- The console lists a tenant's batch tasks newest first, a page at a time.
CREATE INDEX batch_tasks_tenant ON batch_tasks (tenant_id, id);

-- +goose Down
DROP INDEX batch_tasks_tenant;
