-- people: auth functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION token_json(t tokens) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'login', t.login, 'name', t.name, 'kind', t.kind,
        'created_at', ts(t.created_at), 'expires_at', ts(t.expires_at),
        'revoked_at', ts(t.revoked_at), 'last_used_at', ts(t.last_used_at)))
$$;

CREATE OR REPLACE FUNCTION revoke_user_tokens(p_login text, p_kind text) RETURNS void LANGUAGE sql AS $$
    UPDATE tokens SET revoked_at = now()
    WHERE login = p_login AND revoked_at IS NULL AND (p_kind IS NULL OR kind = p_kind);
$$;

-- a: login, password_hash. Unlocks the account and ends its sessions.
CREATE OR REPLACE FUNCTION cmd_reset_password(p_req text, p jsonb, a jsonb) RETURNS jsonb
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
CREATE OR REPLACE FUNCTION own_password_hash(p_login text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT password_hash FROM users WHERE login = p_login AND active
$$;

-- a: password_hash, old_hash (what the old password was checked against: a concurrent change
-- in between answers 409).
CREATE OR REPLACE FUNCTION cmd_change_password(p_req text, p jsonb, a jsonb) RETURNS jsonb
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

-- What the service needs to check a password: {hash, active, locked, retry_in_s}, or NULL
-- for an unknown login.
CREATE OR REPLACE FUNCTION login_lookup(p_login text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('hash', u.password_hash, 'active', u.active, 'locked', u.locked,
        'retry_in_s', greatest(0, ceil(extract(epoch FROM (u.retry_after - now()))))::int)
    FROM users u WHERE u.login = p_login
$$;

-- A wrong password: count it. From the 5th failure in a row the next try waits 2, 4, 8 …
-- seconds (at most 5 minutes); the 10th locks the account until an administrator resets it.
CREATE OR REPLACE FUNCTION login_failed(p_login text) RETURNS jsonb LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION login_succeeded(a jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION resolve_token(p_hash text) RETURNS jsonb LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION cmd_logout(p_req text, p jsonb, a jsonb) RETURNS jsonb
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
CREATE OR REPLACE FUNCTION cmd_create_token(p_req text, p jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_list_tokens(p_req text, p jsonb, a jsonb) RETURNS jsonb
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
CREATE OR REPLACE FUNCTION cmd_revoke_token(p_req text, p jsonb, a jsonb) RETURNS jsonb
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
