-- +goose Up
ALTER TABLE tenants ADD COLUMN max_api_keys INTEGER NOT NULL DEFAULT 1000;

-- +goose Down
ALTER TABLE tenants DROP COLUMN max_api_keys;
