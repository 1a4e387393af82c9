-- surveys: callbacks functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION callback_json(cb callbacks, p_full boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', cb.id, 'ticket_id', cb.ticket_id, 'center', cb.center, 'region', cb.region,
        'state', cb.state, 'customer_name', cb.customer_name, 'customer_phone', cb.customer_phone,
        'category', cb.category, 'brand', cb.brand, 'outcome', cb.outcome,
        'closed_at', ts_text(cb.closed_at), 'due_at', ts_text(cb.due_at),
        'due_date', (cb.due_at AT TIME ZONE 'Asia/Shanghai')::date::text,
        'first_due_at', ts_text(cb.first_due_at), 'attempts', cb.attempts,
        'max_attempts', cb.max_attempts,
        'history', CASE WHEN p_full THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'attempt', x.attempt, 'at', ts_text(x.at), 'result', x.result, 'by', x.by_,
                'note', x.note)) ORDER BY x.attempt), '[]')
            FROM callback_attempts x WHERE x.callback_id = cb.id) END,
        'response', CASE WHEN p_full THEN (
            SELECT response_json(r, (SELECT c.id FROM complaints c WHERE c.response_id = r.id))
            FROM responses r WHERE r.callback_id = cb.id) END));
END $$;

-- Lock a callback the caller may see; another centre's is indistinguishable from a missing one.
CREATE OR REPLACE FUNCTION callback_for_update(p_principal jsonb, p_id text) RETURNS callbacks
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks;
BEGIN
    SELECT * INTO cb FROM callbacks WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT may_see(p_principal, cb.center, cb.region) THEN
        PERFORM fail(404, 'not_found', format('callback %s not found', p_id));
    END IF;
    RETURN cb;
END $$;

CREATE OR REPLACE FUNCTION callback_attempt_add(cb callbacks, p_result text, p_principal jsonb,
                                                p_note text, p_req text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callback_attempts(callback_id, attempt, at, result, by_, note, request_id)
    VALUES (cb.id, cb.attempts + 1, svc_now(), p_result, actor(p_principal), p_note, p_req);
END $$;

CREATE OR REPLACE FUNCTION cmd_get_callback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks;
BEGIN
    SELECT * INTO cb FROM callbacks WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see(p_principal, cb.center, cb.region) THEN
        PERFORM fail(404, 'not_found', format('callback %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'read', 'callback', cb.id, '{"customer": true}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', callback_json(cb, true));
END $$;

CREATE OR REPLACE FUNCTION callback_illegal(cb callbacks, p_what text) RETURNS void
LANGUAGE sql AS $$
    SELECT fail(409, 'illegal_transition',
                format('callback %s is %s; only a scheduled callback can be %s', cb.id, cb.state, p_what))
$$;

CREATE OR REPLACE FUNCTION cmd_answer_callback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks := callback_for_update(p_principal, a->>'id');
    w weight_sets := weight_set_on(svc_today());
    r responses;
    c complaints;
    v_s int[] := ARRAY[(a->>'attitude')::int, (a->>'repair_quality')::int,
                       (a->>'timeliness')::int, (a->>'price')::int, (a->>'facilities')::int];
    v_milli int;
    v_low boolean;
    v_cause text;
    v_min int;
BEGIN
    IF cb.state <> 'scheduled' THEN
        PERFORM callback_illegal(cb, 'answered');
    END IF;
    IF w.version IS NULL THEN
        PERFORM fail(500, 'no_weights', 'no weight set is in effect today');
    END IF;
    v_milli := v_s[1] * w.attitude + v_s[2] * w.repair_quality + v_s[3] * w.timeliness
             + v_s[4] * w.price + v_s[5] * w.facilities;
    v_min := least(v_s[1], v_s[2], v_s[3], v_s[4], v_s[5]);
    v_low := v_milli < setting('low_score_milli') OR v_min <= setting('low_dimension');
    PERFORM callback_attempt_add(cb, 'answered', p_principal, NULL, p_req);
    UPDATE callbacks SET state = 'answered', attempts = attempts + 1, updated_at = svc_now()
    WHERE id = cb.id AND state = 'scheduled' RETURNING * INTO cb;
    INSERT INTO responses(id, callback_id, ticket_id, center, region, attitude, repair_quality,
                          timeliness, price, facilities, nps, comment, weight_version,
                          weighted_milli, low, answered_at, answered_date, answered_by)
    VALUES ('R' || lpad(nextval('response_no')::text, 8, '0'), cb.id, cb.ticket_id, cb.center,
            cb.region, v_s[1], v_s[2], v_s[3], v_s[4], v_s[5], (a->>'nps')::int,
            nullif(a->>'comment', ''), w.version, v_milli, v_low, svc_now(), svc_today(),
            actor(p_principal))
    RETURNING * INTO r;
    PERFORM emit('surveys', 'surveys.SurveyAnswered', jsonb_strip_nulls(jsonb_build_object(
        'response_id', r.id, 'callback_id', cb.id, 'ticket_id', cb.ticket_id, 'center', cb.center,
        'region', cb.region, 'weighted_milli', v_milli, 'nps', r.nps,
        'answered_date', r.answered_date::text)), p_req);
    PERFORM audit_write(p_principal, p_req, 'answer', 'callback', cb.id,
                        jsonb_build_object('response', r.id, 'weighted_milli', v_milli,
                                           'weight_version', w.version, 'low', v_low));
    IF v_low AND NOT EXISTS (SELECT 1 FROM complaints WHERE ticket_id = cb.ticket_id AND source = 'survey') THEN
        -- The cause is the weakest dimension (first in the order asked, on a tie).
        v_cause := CASE v_min WHEN v_s[1] THEN 'attitude' WHEN v_s[2] THEN 'repair_quality'
                              WHEN v_s[3] THEN 'overdue' WHEN v_s[4] THEN 'price' ELSE 'other' END;
        c := complaint_create(p_req, p_principal, 'survey', cb.ticket_id, cb.center,
                              cb.region, v_cause,
                              format('low satisfaction score %s (weights v%s); lowest %s = %s%s',
                                     milli_text(v_milli), w.version, v_cause, v_min,
                                     coalesce(': ' || nullif(a->>'comment', ''), '')),
                              cb.customer_name, cb.customer_phone, 'survey', r.id);
    END IF;
    RETURN reply_for(p_principal,
                     jsonb_build_object('status', 200, 'body', callback_json(cb, true)));
END $$;

CREATE OR REPLACE FUNCTION cmd_refuse_callback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks := callback_for_update(p_principal, a->>'id');
BEGIN
    IF cb.state <> 'scheduled' THEN
        PERFORM callback_illegal(cb, 'refused');
    END IF;
    PERFORM callback_attempt_add(cb, 'refused', p_principal, a->>'note', p_req);
    UPDATE callbacks SET state = 'refused', attempts = attempts + 1, updated_at = svc_now()
    WHERE id = cb.id AND state = 'scheduled' RETURNING * INTO cb;
    PERFORM audit_write(p_principal, p_req, 'refuse', 'callback', cb.id, '{}');
    RETURN reply_for(p_principal,
                     jsonb_build_object('status', 200, 'body', callback_json(cb, true)));
END $$;

CREATE OR REPLACE FUNCTION phone_for(p_principal jsonb, j jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF sees_phones(p_principal) OR j->>'customer_phone' IS NULL THEN
        RETURN j;
    END IF;
    RETURN jsonb_set(j, '{customer_phone}', to_jsonb(mask_phone(j->>'customer_phone')));
END $$;

CREATE OR REPLACE FUNCTION reply_for(p_principal jsonb, r jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF jsonb_typeof(r->'body') = 'object' THEN
        RETURN jsonb_set(r, '{body}', phone_for(p_principal, r->'body'));
    END IF;
    RETURN r;
END $$;

-- ---- proactive calls (issue 19.7; scheduled in events.sql) ----

CREATE OR REPLACE FUNCTION proactive_json(x proactive_calls) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', x.id, 'kind', x.kind, 'ticket_id', x.ticket_id, 'center', x.center,
        'region', x.region, 'customer_name', x.customer_name,
        'customer_phone', x.customer_phone, 'category', x.category, 'brand', x.brand,
        'closed_at', ts_text(x.closed_at), 'due_at', ts_text(x.due_at),
        'due_date', (x.due_at AT TIME ZONE 'Asia/Shanghai')::date::text,
        'notified_at', ts_text(x.notified_at), 'done_at', ts_text(x.done_at),
        'done_by', x.done_by, 'note', x.note, 'basis', x.basis, 'odometer_km', x.odometer_km,
        'km_per_day', x.km_per_day, 'km_per_day_measured', x.km_per_day_measured,
        'due_odometer_km', x.due_odometer_km))
$$;

-- POST /v1/surveys/proactive/{id}/done: the desk made the call; it leaves the list. Another
-- centre's call is indistinguishable from a missing one; a call done already is 409.
CREATE OR REPLACE FUNCTION cmd_complete_proactive(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    x proactive_calls;
BEGIN
    SELECT * INTO x FROM proactive_calls WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND OR NOT may_see(p_principal, x.center, x.region) THEN
        PERFORM fail(404, 'not_found', format('proactive call %s not found', a->>'id'));
    END IF;
    IF x.done_at IS NOT NULL THEN
        PERFORM fail(409, 'illegal_transition', format('proactive call %s was done at %s', x.id, ts_text(x.done_at)));
    END IF;
    UPDATE proactive_calls SET done_at = svc_now(), done_by = actor(p_principal),
                               note = nullif(a->>'note', '')
    WHERE id = x.id RETURNING * INTO x;
    PERFORM audit_write(p_principal, p_req, 'done', 'proactive_call', x.id,
                        jsonb_build_object('kind', x.kind, 'ticket_id', x.ticket_id));
    RETURN reply_for(p_principal, jsonb_build_object('status', 200, 'body', proactive_json(x)));
END $$;
