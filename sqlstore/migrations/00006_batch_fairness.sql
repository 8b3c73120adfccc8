-- +goose Up
-- turn orders batch tasks for the runners, which take turns of one chunk each: every claim and
-- every stored chunk gives a task the next turn number, and a runner claims the task of the
-- tenant whose latest turn is oldest, then that tenant's task whose latest turn is oldest.
ALTER TABLE batch_tasks ADD COLUMN turn BIGINT NOT NULL DEFAULT 0;
CREATE INDEX batch_tasks_turn ON batch_tasks (turn);
CREATE INDEX batch_tasks_tenant_turn ON batch_tasks (tenant_id, turn);

-- +goose Down
DROP INDEX batch_tasks_tenant_turn;
DROP INDEX batch_tasks_turn;
ALTER TABLE batch_tasks DROP COLUMN turn;
