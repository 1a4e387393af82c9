-- surveys: access functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION svc_today() RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (svc_now() AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- Scope checks fail closed: may_see() is true or false, never NULL; a centre principal without a
-- site, or a region principal without a region, sees nothing.
CREATE OR REPLACE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_region IS NOT NULL AND p_principal->>'region' <> ''
                           AND p_principal->>'region' = p_region
        WHEN 'center' THEN p_center IS NOT NULL AND p_principal->>'site' <> ''
                           AND p_principal->>'site' = p_center
        ELSE false END, false)
$$;

CREATE OR REPLACE FUNCTION milli_text(v numeric) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(v / 1000, 3)::text
$$;

CREATE OR REPLACE FUNCTION cmd_mark_unreachable(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks := callback_for_update(p_principal, a->>'id');
BEGIN
    IF cb.state <> 'scheduled' THEN
        PERFORM callback_illegal(cb, 'marked unreachable');
    END IF;
    PERFORM callback_attempt_add(cb, 'unreachable', p_principal, a->>'note', p_req);
    UPDATE callbacks
    SET attempts = attempts + 1,
        state = CASE WHEN attempts + 1 >= max_attempts THEN 'unreachable' ELSE 'scheduled' END,
        due_at = CASE WHEN attempts + 1 >= max_attempts THEN due_at
                      ELSE business_add(svc_now(), setting('callback_retry_h')::int) END,
        updated_at = svc_now()
    WHERE id = cb.id AND state = 'scheduled' RETURNING * INTO cb;
    PERFORM audit_write(p_principal, p_req, 'unreachable', 'callback', cb.id,
                        jsonb_build_object('attempts', cb.attempts, 'state', cb.state));
    RETURN reply_for(p_principal,
                     jsonb_build_object('status', 200, 'body', callback_json(cb, true)));
END $$;

CREATE OR REPLACE FUNCTION clock_json(p_escalated int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'now', ts_text(svc_now()), 'offset_s', setting('clock_offset_s'),
        'test_mode', setting('test_mode') <> 0, 'escalated', p_escalated))
$$;

-- Test mode only: move the service clock forward by a.seconds (>= 0).
CREATE OR REPLACE FUNCTION cmd_advance_clock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_s bigint := coalesce((a->>'seconds')::bigint, 0);
BEGIN
    IF setting('test_mode') = 0 THEN
        PERFORM fail(403, 'test_mode_off', 'the clock can be moved only when the service runs in test mode');
    END IF;
    IF p_principal->>'role' NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'only head office may move the test clock');
    END IF;
    IF v_s < 0 OR v_s > 10 * 365 * 86400 THEN
        PERFORM fail(400, 'bad_seconds', 'seconds is between 0 and ten years');
    END IF;
    UPDATE settings SET value = value + v_s WHERE name = 'clock_offset_s';
    PERFORM audit_write(p_principal, p_req, 'advance_clock', 'clock', NULL,
                        jsonb_build_object('seconds', v_s));
    RETURN jsonb_build_object('status', 200, 'body', clock_json(NULL));
END $$;

-- (ticket_tier(): common/sql/families/customer_tiers.sql)
