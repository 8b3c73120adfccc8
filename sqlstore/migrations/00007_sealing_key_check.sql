-- +goose Up
-- sealing_key_check holds one known value sealed with the secret key the database is used
-- with, so that a start with another key is refused before any read of a sealed value fails.
CREATE TABLE sealing_key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sealed     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE sealing_key_check;
