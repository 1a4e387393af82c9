-- intake: the staff accounts copied from the people stream (migration 421) and the check of a
-- technician's login against them.

-- people.UserChanged (created, updated, disabled, enabled, password): the account's role, scope
-- and whether it is active, as people says now.
CREATE OR REPLACE FUNCTION on_user_changed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->'user'->>'login', e->>'login', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO staff_accounts(login, role, site, region, active)
    VALUES (coalesce(e->'user'->>'login', e->>'login'), coalesce(e->'user'->>'role', ''),
            e->'user'->>'site', e->'user'->>'region',
            coalesce((e->'user'->>'active')::boolean, e->>'change' <> 'disabled'))
    ON CONFLICT (login) DO UPDATE SET role = EXCLUDED.role, site = EXCLUDED.site,
        region = EXCLUDED.region, active = EXCLUDED.active, updated_at = now();
END $$;

-- A technician's login must be an active staff account of the centre they work for (role
-- center, site = the centre): otherwise 422 unknown_technician, saying which of the three it is.
CREATE OR REPLACE FUNCTION check_technician_account(p_login text, p_center text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s staff_accounts;
BEGIN
    SELECT * INTO s FROM staff_accounts WHERE login = p_login;
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_technician',
                     format('technician: %s is not a staff login (people service)', p_login));
    ELSIF NOT s.active THEN
        PERFORM fail(422, 'unknown_technician',
                     format('technician: the staff account %s is disabled', p_login));
    ELSIF s.role <> 'center' THEN
        PERFORM fail(422, 'unknown_technician',
                     format('technician: %s is a %s account, not a service centre''s staff',
                            p_login, s.role));
    ELSIF s.site IS DISTINCT FROM p_center THEN
        PERFORM fail(422, 'unknown_technician',
                     format('technician: %s is staff of centre %s, not of %s', p_login,
                            coalesce(s.site, '-'), p_center));
    END IF;
END $$;
