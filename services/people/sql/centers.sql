-- people: centers functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION center_json(c centers) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'code', c.code, 'name', c.name, 'region', c.region, 'address', c.address,
        'phone', c.phone, 'hours', c.hours, 'categories', to_jsonb(c.categories),
        'brands', to_jsonb(c.brands), 'state', c.state, 'opened_at', ts(c.opened_at),
        'updated_at', ts(c.updated_at)))
$$;

CREATE OR REPLACE FUNCTION center_event(p_req text, c centers, p_change text) RETURNS void LANGUAGE sql AS $$
    SELECT emit('people', 'people.CenterChanged', jsonb_build_object(
        'change', p_change, 'center', center_json(c)), p_req);
$$;

CREATE OR REPLACE FUNCTION cmd_open_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION center_for_update(p jsonb, p_code text) RETURNS centers LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION center_move(p_req text, p jsonb, a jsonb, p_from text[], p_to text,
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

CREATE OR REPLACE FUNCTION cmd_suspend_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT center_move(p_req, p, a, '{open}', 'suspended', 'suspended') $$;

CREATE OR REPLACE FUNCTION cmd_reopen_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT center_move(p_req, p, a, '{suspended}', 'open', 'reopened') $$;

CREATE OR REPLACE FUNCTION cmd_close_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT center_move(p_req, p, a, '{open,suspended}', 'closed', 'closed') $$;

CREATE OR REPLACE FUNCTION cmd_get_center(p_req text, p jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_list_centers(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('centers',
        coalesce(jsonb_agg(center_json(c) ORDER BY c.code), '[]')))
    FROM centers c
    WHERE (a->>'region' IS NULL OR c.region = a->>'region')
      AND (a->>'state' IS NULL OR c.state = a->>'state')
$$;
