-- people: users functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION user_json(u users) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'login', u.login, 'display_name', u.display_name, 'role', u.role, 'site', u.site,
        'region', u.region, 'active', u.active, 'locked', u.locked,
        'failed_logins', u.failed_logins, 'created_at', ts(u.created_at),
        'updated_at', ts(u.updated_at), 'password_changed_at', ts(u.password_changed_at)))
$$;

CREATE OR REPLACE FUNCTION is_admin(p jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p->>'role', '') = 'admin'
$$;

-- A region manager manages the centre staff of its region; an admin everyone.
CREATE OR REPLACE FUNCTION require_manages(p jsonb, u users) RETURNS void LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION user_for_update(p jsonb, p_login text) RETURNS users LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION user_scope_check(u users) RETURNS users LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION user_event(p_req text, u users, p_change text) RETURNS void LANGUAGE sql AS $$
    SELECT emit('people', 'people.UserChanged', jsonb_build_object(
        'login', u.login, 'change', p_change, 'user', user_json(u)), p_req);
$$;

-- a: login, display_name, role, site, region, password_hash (made by the service).
CREATE OR REPLACE FUNCTION cmd_create_user(p_req text, p jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_get_user(p_req text, p jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_list_users(p_req text, p jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_update_user(p_req text, p jsonb, a jsonb) RETURNS jsonb
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
