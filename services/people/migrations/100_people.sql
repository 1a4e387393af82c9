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

CREATE FUNCTION ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE FUNCTION user_json(u users) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'login', u.login, 'display_name', u.display_name, 'role', u.role, 'site', u.site,
        'region', u.region, 'active', u.active, 'locked', u.locked,
        'failed_logins', u.failed_logins, 'created_at', ts(u.created_at),
        'updated_at', ts(u.updated_at), 'password_changed_at', ts(u.password_changed_at)))
$$;

CREATE FUNCTION center_json(c centers) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'code', c.code, 'name', c.name, 'region', c.region, 'address', c.address,
        'phone', c.phone, 'hours', c.hours, 'categories', to_jsonb(c.categories),
        'brands', to_jsonb(c.brands), 'state', c.state, 'opened_at', ts(c.opened_at),
        'updated_at', ts(c.updated_at)))
$$;

CREATE FUNCTION token_json(t tokens) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'login', t.login, 'name', t.name, 'kind', t.kind,
        'created_at', ts(t.created_at), 'expires_at', ts(t.expires_at),
        'revoked_at', ts(t.revoked_at), 'last_used_at', ts(t.last_used_at)))
$$;

CREATE FUNCTION is_admin(p jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p->>'role', '') = 'admin'
$$;

-- May the caller manage things of region p_region? Admin: always. Region manager: its own.
-- Anyone else: no (403).
CREATE FUNCTION require_region(p jsonb, p_region text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF is_admin(p) THEN
        RETURN;
    END IF;
    IF p->>'role' = 'region' AND p_region IS NOT NULL AND p->>'region' = p_region THEN
        RETURN;
    END IF;
    IF p->>'role' = 'region' THEN
        PERFORM fail(403, 'forbidden', format('region %s is outside your region (%s)',
                                             coalesce(p_region, '(none)'), p->>'region'));
    END IF;
    PERFORM fail(403, 'forbidden', 'only an administrator or the region''s manager may do this');
END $$;

-- The region a user belongs to, for scoping: their region, or their centre's.
CREATE FUNCTION user_region(u users) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(u.region, (SELECT region FROM centers WHERE code = u.site))
$$;

-- A region manager manages the centre staff of its region; an admin everyone.
CREATE FUNCTION require_manages(p jsonb, u users) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF is_admin(p) THEN
        RETURN;
    END IF;
    IF p->>'role' = 'region' AND u.role = 'center' THEN
        PERFORM require_region(p, user_region(u));
        RETURN;
    END IF;
    PERFORM fail(403, 'forbidden', 'only an administrator (or the region''s manager, for centre staff) may manage this user');
END $$;

CREATE FUNCTION user_for_update(p jsonb, p_login text) RETURNS users LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    SELECT * INTO u FROM users WHERE login = p_login FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('no user %s', p_login));
    END IF;
    PERFORM require_manages(p, u);
    RETURN u;
END $$;

-- Role and scope rules for a (new or changed) user; returns the row with the region derived
-- from a centre.
CREATE FUNCTION user_scope_check(u users) RETURNS users LANGUAGE plpgsql AS $$
DECLARE
    v_region text;
BEGIN
    IF u.role = 'center' THEN
        IF u.site IS NULL THEN
            PERFORM fail(400, 'validation', 'site: a centre user needs a site (centre code)');
        END IF;
        SELECT region INTO v_region FROM centers WHERE code = u.site;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_site', format('no centre %s', u.site));
        END IF;
        IF u.region IS NOT NULL AND u.region <> v_region THEN
            PERFORM fail(422, 'unknown_region', format('centre %s is in region %s, not %s',
                                                       u.site, v_region, u.region));
        END IF;
        u.region := v_region;
    ELSIF u.role = 'warehouse' THEN
        IF u.site IS NULL THEN
            PERFORM fail(400, 'validation', 'site: a warehouse user needs a site');
        END IF;
        IF NOT EXISTS (SELECT 1 FROM warehouses WHERE code = u.site)
           AND NOT EXISTS (SELECT 1 FROM centers WHERE code = u.site) THEN
            PERFORM fail(422, 'unknown_site', format('no site %s', u.site));
        END IF;
        u.region := NULL;
    ELSIF u.role = 'region' THEN
        IF u.region IS NULL THEN
            PERFORM fail(400, 'validation', 'region: a region manager needs a region');
        END IF;
        IF NOT EXISTS (SELECT 1 FROM regions WHERE code = u.region) THEN
            PERFORM fail(422, 'unknown_region', format('no region %s', u.region));
        END IF;
        u.site := NULL;
    ELSE
        u.site := NULL;
        u.region := NULL;
    END IF;
    RETURN u;
END $$;

CREATE FUNCTION user_event(p_req text, u users, p_change text) RETURNS void LANGUAGE sql AS $$
    SELECT emit('people', 'people.UserChanged', jsonb_build_object(
        'login', u.login, 'change', p_change, 'user', user_json(u)), p_req);
$$;

-- ---- users ----

-- a: login, display_name, role, site, region, password_hash (made by the service).
CREATE FUNCTION cmd_create_user(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    u.login := a->>'login';
    u.display_name := a->>'display_name';
    u.role := a->>'role';
    u.site := nullif(a->>'site', '');
    u.region := nullif(a->>'region', '');
    u.password_hash := a->>'password_hash';
    u := user_scope_check(u);
    PERFORM require_manages(p, u);
    IF EXISTS (SELECT 1 FROM users WHERE login = u.login) THEN
        PERFORM fail(409, 'duplicate', format('a user %s already exists', u.login));
    END IF;
    INSERT INTO users(login, display_name, role, site, region, password_hash)
        VALUES (u.login, u.display_name, u.role, u.site, u.region, u.password_hash)
        RETURNING * INTO u;
    PERFORM audit_write(p, p_req, 'create_user', 'user', u.login,
                        jsonb_build_object('role', u.role, 'site', u.site, 'region', u.region));
    PERFORM user_event(p_req, u, 'created');
    RETURN jsonb_build_object('status', 201, 'body', user_json(u));
END $$;

CREATE FUNCTION cmd_get_user(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    SELECT * INTO u FROM users WHERE login = a->>'login';
    IF NOT FOUND OR NOT (is_admin(p) OR u.login = p->>'subject'
                         OR (p->>'role' = 'region' AND u.role = 'center'
                             AND user_region(u) = p->>'region')) THEN
        PERFORM fail(404, 'not_found', format('no user %s', a->>'login'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', user_json(u));
END $$;

CREATE FUNCTION cmd_list_users(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('users',
        coalesce(jsonb_agg(user_json(u) ORDER BY u.login), '[]')))
    FROM users u
    WHERE (is_admin(p) OR (p->>'role' = 'region' AND u.role = 'center'
                           AND user_region(u) = p->>'region'))
      AND (a->>'role' IS NULL OR u.role = a->>'role')
      AND (a->>'region' IS NULL OR user_region(u) = a->>'region')
      AND (a->>'site' IS NULL OR u.site = a->>'site')
      AND (a->'active' IS NULL OR u.active = (a->>'active')::boolean)
$$;

CREATE FUNCTION revoke_user_tokens(p_login text, p_kind text) RETURNS void LANGUAGE sql AS $$
    UPDATE tokens SET revoked_at = now()
    WHERE login = p_login AND revoked_at IS NULL AND (p_kind IS NULL OR kind = p_kind);
$$;

CREATE FUNCTION cmd_update_user(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u users := user_for_update(p, a->>'login');
    v_change text := 'updated';
BEGIN
    IF a ? 'display_name' THEN u.display_name := a->>'display_name'; END IF;
    IF a ? 'role' THEN u.role := a->>'role'; END IF;
    IF a ? 'site' THEN u.site := nullif(a->>'site', ''); END IF;
    IF a ? 'region' THEN u.region := nullif(a->>'region', ''); END IF;
    IF a ? 'active' THEN
        IF u.active AND NOT (a->>'active')::boolean THEN v_change := 'disabled'; END IF;
        IF NOT u.active AND (a->>'active')::boolean THEN v_change := 'enabled'; END IF;
        u.active := (a->>'active')::boolean;
    END IF;
    IF u.login = p->>'subject' AND NOT u.active THEN
        PERFORM fail(409, 'self_disable', 'you cannot disable your own account');
    END IF;
    u := user_scope_check(u);
    PERFORM require_manages(p, u);  -- also for the new role and scope
    UPDATE users SET display_name = u.display_name, role = u.role, site = u.site,
                     region = u.region, active = u.active, updated_at = now()
        WHERE login = u.login RETURNING * INTO u;
    IF NOT u.active THEN
        PERFORM revoke_user_tokens(u.login, NULL);
    END IF;
    PERFORM audit_write(p, p_req, v_change || '_user', 'user', u.login, a - 'login');
    PERFORM user_event(p_req, u, v_change);
    RETURN jsonb_build_object('status', 200, 'body', user_json(u));
END $$;

-- a: login, password_hash. Unlocks the account and ends its sessions.
CREATE FUNCTION cmd_reset_password(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u users := user_for_update(p, a->>'login');
BEGIN
    UPDATE users SET password_hash = a->>'password_hash', failed_logins = 0, locked = false,
                     retry_after = NULL, password_changed_at = now(), updated_at = now()
        WHERE login = u.login RETURNING * INTO u;
    PERFORM revoke_user_tokens(u.login, 'session');
    PERFORM audit_write(p, p_req, 'reset_password', 'user', u.login);
    PERFORM user_event(p_req, u, 'password');
    RETURN jsonb_build_object('status', 200, 'body', user_json(u));
END $$;

-- The caller's own password hash (the service verifies the old password against it).
CREATE FUNCTION own_password_hash(p_login text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT password_hash FROM users WHERE login = p_login AND active
$$;

-- a: password_hash, old_hash (what the old password was checked against: a concurrent change
-- in between answers 409).
CREATE FUNCTION cmd_change_password(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    UPDATE users SET password_hash = a->>'password_hash', password_changed_at = now(),
                     updated_at = now()
        WHERE login = p->>'subject' AND password_hash = a->>'old_hash' AND active
        RETURNING * INTO u;
    IF NOT FOUND THEN
        PERFORM fail(409, 'conflict', 'the password changed meanwhile; try again');
    END IF;
    PERFORM audit_write(p, p_req, 'change_password', 'user', u.login);
    PERFORM user_event(p_req, u, 'password_changed');
    RETURN jsonb_build_object('status', 200, 'body', user_json(u));
END $$;

-- ---- sign-in ----

-- What the service needs to check a password: {hash, active, locked, retry_in_s}, or NULL
-- for an unknown login.
CREATE FUNCTION login_lookup(p_login text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('hash', u.password_hash, 'active', u.active, 'locked', u.locked,
        'retry_in_s', greatest(0, ceil(extract(epoch FROM (u.retry_after - now()))))::int)
    FROM users u WHERE u.login = p_login
$$;

-- A wrong password: count it. From the 5th failure in a row the next try waits 2, 4, 8 …
-- seconds (at most 5 minutes); the 10th locks the account until an administrator resets it.
CREATE FUNCTION login_failed(p_login text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    UPDATE users SET failed_logins = failed_logins + 1,
                     locked = locked OR failed_logins + 1 >= 10,
                     retry_after = CASE WHEN failed_logins + 1 >= 5
                         THEN now() + least(300, 2 ^ (failed_logins + 1 - 4)) * interval '1 second'
                         END
        WHERE login = p_login RETURNING * INTO u;
    IF FOUND THEN
        PERFORM audit_write(jsonb_build_object('subject', p_login), NULL, 'login_failed',
                            'user', p_login, jsonb_build_object('failed_logins', u.failed_logins,
                                                                'locked', u.locked));
        IF u.locked AND u.failed_logins = 10 THEN
            PERFORM user_event(NULL, u, 'locked');
        END IF;
    END IF;
    RETURN jsonb_build_object('failed_logins', coalesce(u.failed_logins, 0),
                              'locked', coalesce(u.locked, false));
END $$;

-- A right password: a new session. a: login, token_hash, csrf_hash, absolute_s, idle_s.
CREATE FUNCTION login_succeeded(a jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    u users;
    t tokens;
BEGIN
    UPDATE users SET failed_logins = 0, retry_after = NULL
        WHERE login = a->>'login' AND active AND NOT locked RETURNING * INTO u;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('status', 403, 'code', 'account_disabled',
                                  'message', 'this account is disabled or locked');
    END IF;
    INSERT INTO tokens(id, token_hash, login, kind, csrf_hash, expires_at, idle_timeout_s)
        VALUES ('S' || substr(md5(a->>'token_hash' || clock_timestamp()::text), 1, 15),
                a->>'token_hash', u.login, 'session', a->>'csrf_hash',
                now() + (a->>'absolute_s')::int * interval '1 second', (a->>'idle_s')::int)
        RETURNING * INTO t;
    PERFORM audit_write(jsonb_build_object('subject', u.login, 'role', u.role,
                                           'display_name', u.display_name),
                        NULL, 'login', 'session', t.id);
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'id', t.id, 'user', user_json(u), 'expires_at', ts(t.expires_at),
        'idle_timeout_s', t.idle_timeout_s));
END $$;

-- Who is behind a secret: the identity, or NULL (unknown, expired, idle, revoked, disabled).
-- Using it refreshes the idle clock.
CREATE FUNCTION resolve_token(p_hash text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    t tokens;
    u users;
    v_until timestamptz;
BEGIN
    SELECT * INTO t FROM tokens WHERE token_hash = p_hash AND revoked_at IS NULL
        AND expires_at > now()
        AND (idle_timeout_s IS NULL OR last_used_at + idle_timeout_s * interval '1 second' > now());
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO u FROM users WHERE login = t.login AND active;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF t.last_used_at < now() - interval '5 seconds' THEN
        UPDATE tokens SET last_used_at = now() WHERE id = t.id;
    END IF;
    v_until := least(t.expires_at, CASE WHEN t.idle_timeout_s IS NOT NULL
                                         THEN now() + t.idle_timeout_s * interval '1 second' END);
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'token_id', t.id, 'kind', t.kind, 'login', u.login, 'display_name', u.display_name,
        'role', u.role, 'site', u.site, 'region', u.region, 'csrf_hash', t.csrf_hash,
        'expires_at_ms', (extract(epoch FROM v_until) * 1000)::bigint));
END $$;

CREATE FUNCTION cmd_logout(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tokens;
BEGIN
    UPDATE tokens SET revoked_at = now()
        WHERE token_hash = a->>'token_hash' AND login = p->>'subject' AND revoked_at IS NULL
        RETURNING * INTO t;
    IF FOUND THEN
        PERFORM audit_write(p, p_req, 'logout', 'session', t.id);
        PERFORM emit('people', 'people.TokenRevoked',
                     jsonb_build_object('token_id', t.id, 'login', t.login), p_req);
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', '{}'::jsonb);
END $$;

-- a: name, expires_in_days, token_hash. For the caller's own account.
CREATE FUNCTION cmd_create_token(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tokens;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users WHERE login = p->>'subject' AND active) THEN
        PERFORM fail(403, 'no_account', 'personal tokens are for staff accounts (sign in first)');
    END IF;
    INSERT INTO tokens(id, token_hash, login, kind, name, expires_at)
        VALUES ('K' || substr(md5(a->>'token_hash' || clock_timestamp()::text), 1, 15),
                a->>'token_hash', p->>'subject', 'token', a->>'name',
                now() + coalesce((a->>'expires_in_days')::int, 90) * interval '1 day')
        RETURNING * INTO t;
    PERFORM audit_write(p, p_req, 'create_token', 'token', t.id,
                        jsonb_build_object('name', t.name, 'expires_at', ts(t.expires_at)));
    RETURN jsonb_build_object('status', 201, 'body', token_json(t));
END $$;

CREATE FUNCTION cmd_list_tokens(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_login text := coalesce(a->>'login', p->>'subject');
BEGIN
    IF v_login <> p->>'subject' AND NOT is_admin(p) THEN
        PERFORM fail(403, 'forbidden', 'only an administrator may list another user''s tokens');
    END IF;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('tokens',
        (SELECT coalesce(jsonb_agg(token_json(t) ORDER BY t.created_at), '[]') FROM tokens t
         WHERE t.login = v_login AND t.revoked_at IS NULL AND t.expires_at > now())));
END $$;

-- Revoke a session or token: your own, or (admin) anyone's, or (region) its centre staff's.
CREATE FUNCTION cmd_revoke_token(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tokens;
    u users;
BEGIN
    SELECT * INTO t FROM tokens WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('no token %s', a->>'id'));
    END IF;
    IF t.login <> coalesce(p->>'subject', '') THEN
        SELECT * INTO u FROM users WHERE login = t.login;
        IF NOT (is_admin(p) OR (p->>'role' = 'region' AND u.role = 'center'
                                AND user_region(u) = p->>'region')) THEN
            PERFORM fail(404, 'not_found', format('no token %s', a->>'id'));
        END IF;
    END IF;
    IF t.revoked_at IS NULL THEN
        UPDATE tokens SET revoked_at = now() WHERE id = t.id RETURNING * INTO t;
        PERFORM audit_write(p, p_req, 'revoke_token', 'token', t.id,
                            jsonb_build_object('login', t.login));
        PERFORM emit('people', 'people.TokenRevoked',
                     jsonb_build_object('token_id', t.id, 'login', t.login), p_req);
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', token_json(t));
END $$;

-- ---- the network ----

CREATE FUNCTION cmd_create_region(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r regions;
BEGIN
    IF NOT is_admin(p) THEN
        PERFORM fail(403, 'forbidden', 'only an administrator may create regions');
    END IF;
    IF EXISTS (SELECT 1 FROM regions WHERE code = a->>'code') THEN
        PERFORM fail(409, 'duplicate', format('region %s already exists', a->>'code'));
    END IF;
    INSERT INTO regions(code, name) VALUES (a->>'code', a->>'name') RETURNING * INTO r;
    PERFORM audit_write(p, p_req, 'create_region', 'region', r.code);
    PERFORM emit('people', 'people.RegionCreated', jsonb_build_object('region',
        jsonb_build_object('code', r.code, 'name', r.name, 'created_at', ts(r.created_at))), p_req);
    RETURN jsonb_build_object('status', 201, 'body',
        jsonb_build_object('code', r.code, 'name', r.name, 'created_at', ts(r.created_at)));
END $$;

CREATE FUNCTION cmd_list_regions(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('regions',
        coalesce(jsonb_agg(jsonb_build_object('code', r.code, 'name', r.name,
                                              'created_at', ts(r.created_at)) ORDER BY r.code), '[]')))
    FROM regions r
$$;

CREATE FUNCTION center_event(p_req text, c centers, p_change text) RETURNS void LANGUAGE sql AS $$
    SELECT emit('people', 'people.CenterChanged', jsonb_build_object(
        'change', p_change, 'center', center_json(c)), p_req);
$$;

CREATE FUNCTION cmd_open_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c centers;
    v_bad text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM regions WHERE code = a->>'region') THEN
        PERFORM fail(422, 'unknown_region', format('no region %s', a->>'region'));
    END IF;
    PERFORM require_region(p, a->>'region');
    SELECT b INTO v_bad FROM jsonb_array_elements_text(coalesce(a->'brands', '[]')) b
        WHERE NOT EXISTS (SELECT 1 FROM brands WHERE name = b) LIMIT 1;
    IF v_bad IS NOT NULL THEN
        PERFORM fail(422, 'unknown_brand', format('no brand %s', v_bad));
    END IF;
    IF EXISTS (SELECT 1 FROM centers WHERE code = a->>'code')
       OR EXISTS (SELECT 1 FROM warehouses WHERE code = a->>'code') THEN
        PERFORM fail(409, 'duplicate', format('a site %s already exists', a->>'code'));
    END IF;
    INSERT INTO centers(code, name, region, address, phone, hours, categories, brands)
        VALUES (a->>'code', a->>'name', a->>'region', a->>'address', a->>'phone', a->>'hours',
                ARRAY(SELECT jsonb_array_elements_text(coalesce(a->'categories', '[]'))),
                ARRAY(SELECT jsonb_array_elements_text(coalesce(a->'brands', '[]'))))
        RETURNING * INTO c;
    PERFORM audit_write(p, p_req, 'open_center', 'center', c.code, center_json(c));
    PERFORM center_event(p_req, c, 'opened');
    RETURN jsonb_build_object('status', 201, 'body', center_json(c));
END $$;

CREATE FUNCTION center_for_update(p jsonb, p_code text) RETURNS centers LANGUAGE plpgsql AS $$
DECLARE
    c centers;
BEGIN
    SELECT * INTO c FROM centers WHERE code = p_code FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('no centre %s', p_code));
    END IF;
    PERFORM require_region(p, c.region);
    RETURN c;
END $$;

CREATE FUNCTION center_move(p_req text, p jsonb, a jsonb, p_from text[], p_to text,
                            p_change text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c centers := center_for_update(p, a->>'code');
BEGIN
    IF NOT c.state = ANY (p_from) THEN
        PERFORM fail(409, 'wrong_state', format('centre %s is %s', c.code, c.state));
    END IF;
    UPDATE centers SET state = p_to, updated_at = now() WHERE code = c.code RETURNING * INTO c;
    PERFORM audit_write(p, p_req, p_change || '_center', 'center', c.code,
                        jsonb_strip_nulls(jsonb_build_object('reason', a->>'reason')));
    PERFORM center_event(p_req, c, p_change);
    RETURN jsonb_build_object('status', 200, 'body', center_json(c));
END $$;

CREATE FUNCTION cmd_suspend_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT center_move(p_req, p, a, '{open}', 'suspended', 'suspended') $$;
CREATE FUNCTION cmd_reopen_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT center_move(p_req, p, a, '{suspended}', 'open', 'reopened') $$;
CREATE FUNCTION cmd_close_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT center_move(p_req, p, a, '{open,suspended}', 'closed', 'closed') $$;

CREATE FUNCTION cmd_get_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c centers;
BEGIN
    SELECT * INTO c FROM centers WHERE code = a->>'code';
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('no centre %s', a->>'code'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', center_json(c));
END $$;

CREATE FUNCTION cmd_list_centers(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('centers',
        coalesce(jsonb_agg(center_json(c) ORDER BY c.code), '[]')))
    FROM centers c
    WHERE (a->>'region' IS NULL OR c.region = a->>'region')
      AND (a->>'state' IS NULL OR c.state = a->>'state')
$$;

CREATE FUNCTION brand_json(b brands) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('name', b.name, 'manufacturer', b.manufacturer,
                              'models', to_jsonb(b.models))
$$;

CREATE FUNCTION cmd_create_brand(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b brands;
BEGIN
    IF NOT is_admin(p) THEN
        PERFORM fail(403, 'forbidden', 'only an administrator may add brands');
    END IF;
    IF EXISTS (SELECT 1 FROM brands WHERE name = a->>'name') THEN
        PERFORM fail(409, 'duplicate', format('brand %s already exists', a->>'name'));
    END IF;
    INSERT INTO brands(name, manufacturer, models)
        VALUES (a->>'name', a->>'manufacturer',
                ARRAY(SELECT DISTINCT jsonb_array_elements_text(coalesce(a->'models', '[]'))))
        RETURNING * INTO b;
    PERFORM audit_write(p, p_req, 'create_brand', 'brand', b.name, brand_json(b));
    PERFORM emit('people', 'people.BrandChanged', jsonb_build_object('brand', brand_json(b)), p_req);
    RETURN jsonb_build_object('status', 201, 'body', brand_json(b));
END $$;

CREATE FUNCTION cmd_add_models(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b brands;
BEGIN
    IF NOT is_admin(p) THEN
        PERFORM fail(403, 'forbidden', 'only an administrator may change brands');
    END IF;
    UPDATE brands SET models = ARRAY(SELECT DISTINCT m FROM unnest(models || ARRAY(
            SELECT jsonb_array_elements_text(coalesce(a->'models', '[]')))) m ORDER BY m)
        WHERE name = a->>'name' RETURNING * INTO b;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('no brand %s', a->>'name'));
    END IF;
    PERFORM audit_write(p, p_req, 'add_models', 'brand', b.name, a - 'name');
    PERFORM emit('people', 'people.BrandChanged', jsonb_build_object('brand', brand_json(b)), p_req);
    RETURN jsonb_build_object('status', 200, 'body', brand_json(b));
END $$;

CREATE FUNCTION cmd_list_brands(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('brands',
        coalesce(jsonb_agg(brand_json(b) ORDER BY b.name), '[]')))
    FROM brands b
$$;
