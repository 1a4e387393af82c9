-- warranty: policies functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- The version p_version when given (NULL when it does not exist), else the one in force now.
CREATE OR REPLACE FUNCTION policy_pick(p_version text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    IF p_version IS NOT NULL THEN
        SELECT pv.version INTO v FROM policy_versions pv WHERE pv.version = p_version;
    ELSE
        SELECT pv.version INTO v FROM policy_versions pv WHERE pv.effective_from <= now()
        ORDER BY pv.effective_from DESC LIMIT 1;
    END IF;
    RETURN v;
END $$;

-- A policy version as the PolicyInfo message (NULL when there is no such version).
CREATE OR REPLACE FUNCTION policy_info(p_version text, p_created boolean DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_strip_nulls(jsonb_build_object(
        'version', v.version, 'effective_from', iso_instant(v.effective_from),
        'description', v.description, 'phone_depreciation_ppm', v.phone_depreciation_ppm,
        'car_use_comp_ppm', v.car_use_comp_ppm,
        'promises', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'brand', p.brand, 'category', p.category,
                         'extra_validity_months', p.extra_validity_months,
                         'extra_warranty_months', p.extra_warranty_months)
                         ORDER BY lower(p.brand), p.category), '[]')
                     FROM policy_promises p WHERE p.version = v.version),
        'fault_codes', (SELECT count(*) FROM policy_fault_codes f WHERE f.version = v.version),
        'holidays', (SELECT count(*) FROM policy_holidays h WHERE h.version = v.version),
        'in_force', v.version = policy_pick(NULL),
        'created', p_created))
    FROM policy_versions v WHERE v.version = p_version);
END $$;

-- Raise 400 invalid_policy unless jsonb value v has JSON type t (NULL passes when p_optional).
CREATE OR REPLACE FUNCTION policy_expect(v jsonb, t text, p_what text, p_optional boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (v IS NULL OR jsonb_typeof(v) = 'null') AND p_optional THEN
        RETURN;
    END IF;
    IF v IS NULL OR jsonb_typeof(v) IS DISTINCT FROM t THEN
        PERFORM fail(400, 'invalid_policy', format('%s must be a JSON %s', p_what, t));
    END IF;
END $$;

-- Create a policy version from its document:
--   {"version": "...", "effective_from": "2026-01-01T00:00:00+08:00", "description": "...",
--    "based_on": "<version whose rows and rates are copied first>",
--    "phone_depreciation_ppm": 5000, "car_use_comp_ppm": 5000,
--    "promises": [{"brand", "category", "extra_validity_months", "extra_warranty_months"}],
--    "fault_codes": [{"code", "category", "listed", "description"}],
--    "holidays": [{"day": "YYYY-MM-DD", "name": "..."}] or ["YYYY-MM-DD", ...]}
-- Rows given replace the base version's rows with the same key. Returns whether it was created:
-- an existing version is left alone when p_if_absent (idempotent demo loads), else 409.
CREATE OR REPLACE FUNCTION policy_publish(d jsonb, p_if_absent boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_version text;
    v_from timestamptz;
    v_base policy_versions;
    x jsonb;
BEGIN
    PERFORM policy_expect(d, 'object', 'the policy document');
    PERFORM policy_expect(d->'version', 'string', 'version');
    PERFORM policy_expect(d->'effective_from', 'string', 'effective_from');
    PERFORM policy_expect(d->'description', 'string', 'description', true);
    PERFORM policy_expect(d->'based_on', 'string', 'based_on', true);
    PERFORM policy_expect(d->'phone_depreciation_ppm', 'number', 'phone_depreciation_ppm', true);
    PERFORM policy_expect(d->'car_use_comp_ppm', 'number', 'car_use_comp_ppm', true);
    PERFORM policy_expect(d->'promises', 'array', 'promises', true);
    PERFORM policy_expect(d->'fault_codes', 'array', 'fault_codes', true);
    PERFORM policy_expect(d->'holidays', 'array', 'holidays', true);
    v_version := d->>'version';
    IF v_version !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' THEN
        PERFORM fail(400, 'invalid_policy', 'version must be 1-64 letters, digits, ".", "_" or "-"');
    END IF;
    IF EXISTS (SELECT 1 FROM policy_versions WHERE version = v_version) THEN
        IF p_if_absent THEN
            RETURN false;
        END IF;
        PERFORM fail(409, 'version_exists',
                     format('policy version %s exists; versions are immutable, publish a new one', v_version));
    END IF;
    IF d->>'effective_from' !~ '^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?(Z|[+-]\d\d(:?\d\d)?)?$' THEN
        PERFORM fail(400, 'invalid_policy', 'effective_from must be an ISO 8601 date or instant');
    END IF;
    BEGIN
        -- A bare date is midnight in Asia/Shanghai (business dates are Shanghai dates).
        v_from := CASE WHEN length(d->>'effective_from') = 10
                       THEN (d->>'effective_from')::date::timestamp AT TIME ZONE 'Asia/Shanghai'
                       ELSE (d->>'effective_from')::timestamptz END;
    EXCEPTION WHEN others THEN
        PERFORM fail(400, 'invalid_policy', 'effective_from is not a valid date or instant');
    END;
    IF EXISTS (SELECT 1 FROM policy_versions WHERE effective_from = v_from) THEN
        PERFORM fail(409, 'effective_from_taken',
                     'another policy version takes effect at exactly that instant');
    END IF;
    IF d ? 'based_on' AND jsonb_typeof(d->'based_on') = 'string' THEN
        SELECT * INTO v_base FROM policy_versions WHERE version = d->>'based_on';
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_base', format('based_on: policy version %s does not exist', d->>'based_on'));
        END IF;
    END IF;
    FOREACH x IN ARRAY ARRAY[d->'phone_depreciation_ppm', d->'car_use_comp_ppm'] LOOP
        IF x IS NOT NULL AND jsonb_typeof(x) = 'number'
           AND NOT (x::numeric BETWEEN 0 AND 1000000 AND x::numeric = trunc(x::numeric)) THEN
            PERFORM fail(400, 'invalid_policy', 'rates are integer parts per million between 0 and 1000000');
        END IF;
    END LOOP;
    INSERT INTO policy_versions(version, effective_from, description, phone_depreciation_ppm,
                                car_use_comp_ppm, based_on)
    VALUES (v_version, v_from, coalesce(d->>'description', ''),
            coalesce((d->>'phone_depreciation_ppm')::bigint, v_base.phone_depreciation_ppm, 5000),
            coalesce((d->>'car_use_comp_ppm')::bigint, v_base.car_use_comp_ppm, 5000),
            v_base.version);

    -- Copy the base version's rows, then lay the document's rows over them.
    IF v_base.version IS NOT NULL THEN
        INSERT INTO policy_promises SELECT v_version, brand, category, extra_validity_months,
            extra_warranty_months FROM policy_promises WHERE version = v_base.version;
        INSERT INTO policy_fault_codes SELECT v_version, code, category, listed, description
            FROM policy_fault_codes WHERE version = v_base.version;
        INSERT INTO policy_holidays SELECT v_version, day, name
            FROM policy_holidays WHERE version = v_base.version;
    END IF;
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(d->'promises', '[]')) LOOP
        PERFORM policy_expect(x, 'object', 'each promise');
        PERFORM policy_expect(x->'brand', 'string', 'promise brand');
        PERFORM policy_expect(x->'category', 'string', 'promise category', true);
        PERFORM policy_expect(x->'extra_validity_months', 'number', 'extra_validity_months', true);
        PERFORM policy_expect(x->'extra_warranty_months', 'number', 'extra_warranty_months', true);
        IF coalesce((x->>'extra_validity_months')::numeric, 0) NOT IN (SELECT generate_series(0, 120))
           OR coalesce((x->>'extra_warranty_months')::numeric, 0) NOT IN (SELECT generate_series(0, 120)) THEN
            PERFORM fail(400, 'invalid_policy',
                         format('promise %s: months are whole numbers 0..120 (a promise only widens the statute)', x->>'brand'));
        END IF;
        IF coalesce(x->>'category', '*') NOT IN ('*', 'phone_host', 'phone_battery', 'phone_charger',
               'phone_headset', 'phone_data_card', 'phone_terminal_card', 'car', 'general') THEN
            PERFORM fail(400, 'invalid_policy', format('promise %s: unknown category %s', x->>'brand', x->>'category'));
        END IF;
        DELETE FROM policy_promises WHERE version = v_version AND lower(brand) = lower(x->>'brand')
            AND category = coalesce(x->>'category', '*');
        INSERT INTO policy_promises VALUES (v_version, x->>'brand', coalesce(x->>'category', '*'),
            coalesce((x->>'extra_validity_months')::int, 0), coalesce((x->>'extra_warranty_months')::int, 0));
    END LOOP;
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(d->'fault_codes', '[]')) LOOP
        PERFORM policy_expect(x, 'object', 'each fault code');
        PERFORM policy_expect(x->'code', 'string', 'fault code');
        PERFORM policy_expect(x->'category', 'string', 'fault code category', true);
        PERFORM policy_expect(x->'listed', 'boolean', format('fault code %s: listed', x->>'code'));
        PERFORM policy_expect(x->'description', 'string', 'fault code description', true);
        IF x->>'code' !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$' THEN
            PERFORM fail(400, 'invalid_policy', format('fault code %s: 1-32 letters, digits, ".", "_" or "-"', x->>'code'));
        END IF;
        IF coalesce(x->>'category', '*') NOT IN ('*', 'phone_host', 'phone_battery', 'phone_charger',
               'phone_headset', 'phone_data_card', 'phone_terminal_card', 'car', 'general') THEN
            PERFORM fail(400, 'invalid_policy', format('fault code %s: unknown category %s', x->>'code', x->>'category'));
        END IF;
        INSERT INTO policy_fault_codes VALUES (v_version, x->>'code', coalesce(x->>'category', '*'),
            (x->>'listed')::boolean, coalesce(x->>'description', ''))
        ON CONFLICT (version, code, category) DO UPDATE
            SET listed = excluded.listed, description = excluded.description;
    END LOOP;
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(d->'holidays', '[]')) LOOP
        IF jsonb_typeof(x) = 'string' THEN
            x := jsonb_build_object('day', x);
        END IF;
        PERFORM policy_expect(x, 'object', 'each holiday');
        PERFORM policy_expect(x->'day', 'string', 'holiday day');
        IF x->>'day' !~ '^\d{4}-\d\d-\d\d$' THEN
            PERFORM fail(400, 'invalid_policy', format('holiday %s: must be YYYY-MM-DD', x->>'day'));
        END IF;
        BEGIN
            INSERT INTO policy_holidays VALUES (v_version, (x->>'day')::date, coalesce(x->>'name', ''))
            ON CONFLICT (version, day) DO UPDATE SET name = excluded.name;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            PERFORM fail(400, 'invalid_policy', format('holiday %s: not a calendar day', x->>'day'));
        END;
    END LOOP;
    RETURN true;
END $$;

CREATE OR REPLACE FUNCTION cmd_publish_policy(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF p_principal->>'role' IS DISTINCT FROM 'admin' THEN
        PERFORM fail(403, 'forbidden', 'only an administrator may publish a policy version');
    END IF;
    PERFORM policy_publish(a->'policy', false);
    PERFORM audit_write(p_principal, p_req, 'publish', 'policy', a#>>'{policy,version}',
                        jsonb_build_object('effective_from', a#>>'{policy,effective_from}',
                                           'based_on', a#>>'{policy,based_on}'));
    RETURN jsonb_build_object('status', 201, 'body', policy_info(a#>>'{policy,version}', true));
END $$;

CREATE OR REPLACE FUNCTION cmd_get_policy(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v text := policy_pick(a->>'version');
BEGIN
    IF v IS NULL THEN
        PERFORM fail(404, 'not_found', format('policy version %s not found', coalesce(a->>'version', '(in force)')));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', policy_info(v));
END $$;
