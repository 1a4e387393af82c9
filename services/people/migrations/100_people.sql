-- people: staff accounts, their sessions and API tokens, and the network as data (regions,
-- centres, warehouses, brands). Passwords are stored only as Argon2id strings made by the
-- service (libsodium crypto_pwhash_str); session and token secrets only as SHA-256 hashes made
-- by the gateway.

CREATE TABLE regions (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_-]{0,31}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE centers (
    code       text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{1,15}$'),
    name       text NOT NULL,
    region     text NOT NULL REFERENCES regions(code),
    address    text,
    phone      text,
    hours      text,
    categories text[] NOT NULL DEFAULT '{}',
    brands     text[] NOT NULL DEFAULT '{}',
    state      text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'suspended', 'closed')),
    opened_at  timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Parts warehouses: sites that are not centres (the warehouse role's scope).
CREATE TABLE warehouses (
    code text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE brands (
    name         text PRIMARY KEY,
    manufacturer text NOT NULL,
    models       text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE users (
    login               text PRIMARY KEY CHECK (login ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name        text NOT NULL,
    role                text NOT NULL CHECK (role IN ('admin', 'region', 'center', 'warehouse',
                                                      'finance', 'reviewer')),
    site                text,
    region              text REFERENCES regions(code),
    password_hash       text NOT NULL,
    active              boolean NOT NULL DEFAULT true,
    failed_logins       int NOT NULL DEFAULT 0,
    locked              boolean NOT NULL DEFAULT false,
    retry_after         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

-- Sessions (browsers) and personal API tokens (programs): the SHA-256 of the secret.
CREATE TABLE tokens (
    id             text PRIMARY KEY,
    token_hash     text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    login          text NOT NULL REFERENCES users(login),
    kind           text NOT NULL CHECK (kind IN ('session', 'token')),
    name           text,
    csrf_hash      text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    idle_timeout_s int,
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);
CREATE INDEX tokens_login ON tokens (login);

-- ---- users ----

-- ---- sign-in ----

-- ---- the network ----

