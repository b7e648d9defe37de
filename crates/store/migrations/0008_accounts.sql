-- People who sign in to the dashboard, their roles, sessions and one-time links.
--
-- E-mail addresses are kept lower-cased and trimmed; passwords only as argon2id PHC
-- strings (NULL until the person sets one through a link). Session tokens and link tokens
-- are kept only as SHA-256 hashes, like API keys.
CREATE TABLE users (
    id {{id}},
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_ms BIGINT NOT NULL
);

-- A role per project; project_id 0 is every project.
CREATE TABLE user_roles (
    user_id BIGINT NOT NULL,
    project_id BIGINT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, project_id)
){{without_rowid}};

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
){{without_rowid}};
CREATE INDEX sessions_by_user ON sessions (user_id);

-- One-time links that let a person set a password (a new account, an invitation, a reset).
CREATE TABLE password_links (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
){{without_rowid}};
