-- surveys: personal data, the rule intake follows (services/intake/migrations/102_privacy.sql).
-- 1. Lists (due callbacks, complaints, overdue complaints) mask the customer's phone with
--    mask_phone() for every role except the desks that call customers (admin, center).
-- 2. Reading ONE full record (a callback, a complaint: customer name and phone) is audited: one
--    `read` row per successful read. Every role that may read the record gets it in full; the
--    audit row is the price. These reads, and the lists, are "nostore" (common/sql/003_reads.sql):
--    never kept as command replies, so a repeated read is read (and audited) again, and no copy
--    of customers' phones piles up in `commands`.
-- 3. The replies of state changes (answer a callback, acknowledge a complaint, ...) are for the
--    desk doing the work; a regional manager may call them too, and gets the phone masked, so a
--    role that does not call customers sees a full number only through an audited read.
-- Reports carry no customer data and are unchanged. The functions below are those of
-- 100_init.sql with only their RETURN (and, for reads, the audit row) changed.

-- Who may see customers' phone numbers in full outside an audited read: the desks that call
-- them, and admin.
CREATE FUNCTION sees_phones(p_principal jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p_principal->>'role', '') IN ('admin', 'center')
$$;

-- A callback or complaint object as this caller may see it: `customer_phone` masked unless
-- the caller calls customers (absent stays absent).
CREATE FUNCTION phone_for(p_principal jsonb, j jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN sees_phones(p_principal) OR j->>'customer_phone' IS NULL THEN j
                ELSE jsonb_set(j, '{customer_phone}', to_jsonb(mask_phone(j->>'customer_phone')))
           END
$$;

-- A command's reply {status, body} with its body passed through phone_for().
CREATE FUNCTION reply_for(p_principal jsonb, r jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(r->'body') = 'object'
                THEN jsonb_set(r, '{body}', phone_for(p_principal, r->'body'))
                ELSE r END
$$;

-- Replies of reads kept before this migration: reads are no longer replayed, and these copies
-- hold customers' phone numbers.
DELETE FROM commands
WHERE command IN ('cmd_list_due', 'cmd_get_callback', 'cmd_list_complaints', 'cmd_get_complaint',
                  'cmd_list_overdue');

-- ---- lists: the phone masked for roles that do not call customers; not stored ---------------

CREATE OR REPLACE FUNCTION cmd_list_due(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_date date := coalesce((a->>'date')::date, svc_today());
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 200), 1), 500);
    v_rows jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(phone_for(p_principal, callback_json(x, false))
                              ORDER BY (x).due_at, (x).id), '[]') INTO v_rows
    FROM (SELECT cb FROM callbacks cb
          WHERE cb.state = 'scheduled' AND cb.due_at < day_start(v_date + 1)
            AND may_see(p_principal, cb.center, cb.region)
            AND (a->>'center' IS NULL OR cb.center = a->>'center')
          ORDER BY cb.due_at, cb.id LIMIT v_limit) s(x);
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body',
                              jsonb_build_object('callbacks', v_rows, 'date', v_date::text));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_complaints(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_after_at timestamptz;
    v_after_id text;
    v_rows jsonb;
    v_n int;
BEGIN
    IF coalesce(a->>'after', '') <> '' THEN
        SELECT created_at, id INTO v_after_at, v_after_id FROM complaints WHERE id = a->>'after';
        IF NOT FOUND THEN
            PERFORM fail(400, 'bad_cursor', 'the cursor does not name a complaint');
        END IF;
    END IF;
    WITH page AS (
        SELECT c FROM complaints c
        WHERE may_see(p_principal, c.center, c.region)
          AND (a->>'state' IS NULL OR c.state = a->>'state')
          AND (a->>'severity' IS NULL OR c.severity = a->>'severity')
          AND (a->>'center' IS NULL OR c.center = a->>'center')
          AND (a->>'cause' IS NULL OR c.cause = a->>'cause')
          AND (a->>'ticket_id' IS NULL OR c.ticket_id = a->>'ticket_id')
          AND (v_after_id IS NULL OR (c.created_at, c.id) < (v_after_at, v_after_id))
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(phone_for(p_principal, complaint_json(page.c, false))
                              ORDER BY (page.c).created_at DESC, (page.c).id DESC), '[]'),
           count(*) INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true,
                              'body', jsonb_strip_nulls(jsonb_build_object(
        'complaints', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END)));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_overdue(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 200), 1), 500);
    v_rows jsonb;
BEGIN
    WITH od AS (
        SELECT c, min(d.due_at) AS first_due FROM complaints c
        JOIN complaint_deadlines d ON d.complaint_id = c.id
        WHERE d.met_at IS NULL AND d.due_at <= svc_now()
          AND may_see(p_principal, c.center, c.region)
          AND (a->>'center' IS NULL OR c.center = a->>'center')
        GROUP BY c.id
        ORDER BY min(d.due_at), c.id
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(phone_for(p_principal, complaint_json(od.c, false))
                              ORDER BY od.first_due, (od.c).id), '[]')
    INTO v_rows FROM od;
    RETURN jsonb_build_object('status', 200, 'nostore', true,
                              'body', jsonb_build_object('complaints', v_rows));
END $$;

-- ---- one full record: audited, not stored ---------------------------------------------------

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

CREATE OR REPLACE FUNCTION cmd_get_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
BEGIN
    SELECT * INTO c FROM complaints WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see(p_principal, c.center, c.region) THEN
        PERFORM fail(404, 'not_found', format('complaint %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'read', 'complaint', c.id, '{"customer": true}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', complaint_json(c, true));
END $$;

-- ---- state changes: the reply as the caller may see it (region: masked) ---------------------

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

CREATE OR REPLACE FUNCTION cmd_open_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_role text := p_principal->>'role';
    c complaints;
BEGIN
    IF v_center IS NULL AND v_role = 'center' THEN
        v_center := p_principal->>'site'; -- a desk takes complaints for its own centre
    END IF;
    IF v_center IS NULL AND a->>'ticket_id' IS NOT NULL THEN
        SELECT center INTO v_center FROM callbacks WHERE ticket_id = a->>'ticket_id';
    END IF;
    IF v_center IS NOT NULL THEN
        SELECT region INTO v_region FROM centers WHERE code = v_center;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_center', format('centre %s does not exist', v_center));
        END IF;
    END IF;
    IF v_role NOT IN ('admin', 'service') AND NOT may_see(p_principal, v_center, v_region) THEN
        PERFORM fail(403, 'forbidden',
                     format('you may not open complaints for centre %s', coalesce(v_center, '(none)')));
    END IF;
    c := complaint_create(p_req, p_principal, a->>'channel', nullif(a->>'ticket_id', ''),
                          v_center, v_region, a->>'cause', a->>'description',
                          nullif(a->>'customer_name', ''), nullif(a->>'customer_phone', ''),
                          'manual', NULL);
    RETURN reply_for(p_principal, complaint_reply(c.id, 201));
END $$;

CREATE OR REPLACE FUNCTION cmd_acknowledge_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF c.state <> 'open' THEN
        PERFORM complaint_illegal(c, 'acknowledge', 'open');
    END IF;
    UPDATE complaints SET state = 'acknowledged', acknowledged_at = svc_now(), updated_at = svc_now()
    WHERE id = c.id AND state = 'open';
    PERFORM deadline_meet(c.id, 'acknowledge');
    PERFORM history_add(c.id, 'acknowledged', 'open', 'acknowledged', NULL, NULL, NULL,
                        actor(p_principal), nullif(a->>'note', ''), p_req);
    PERFORM audit_write(p_principal, p_req, 'acknowledge', 'complaint', c.id, '{}');
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_resolve_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF c.state <> 'acknowledged' THEN
        PERFORM complaint_illegal(c, 'resolve', 'acknowledged');
    END IF;
    UPDATE complaints SET state = 'resolved', resolved_at = svc_now(), resolution = a->>'resolution',
                          updated_at = svc_now()
    WHERE id = c.id AND state = 'acknowledged';
    PERFORM deadline_meet(c.id, 'resolve');
    PERFORM history_add(c.id, 'resolved', 'acknowledged', 'resolved', NULL, NULL, NULL,
                        actor(p_principal), a->>'resolution', p_req);
    PERFORM audit_write(p_principal, p_req, 'resolve', 'complaint', c.id, '{}');
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_close_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF c.state <> 'resolved' THEN
        PERFORM complaint_illegal(c, 'close', 'resolved');
    END IF;
    IF coalesce(a->>'followup_outcome', '') = '' THEN
        PERFORM fail(422, 'followup_required', 'closing needs the outcome of the follow-up callback');
    END IF;
    UPDATE complaints SET state = 'closed', closed_at = svc_now(),
                          followup_outcome = a->>'followup_outcome', updated_at = svc_now()
    WHERE id = c.id AND state = 'resolved';
    PERFORM history_add(c.id, 'closed', 'resolved', 'closed', NULL, NULL, NULL, actor(p_principal),
                        'follow-up: ' || (a->>'followup_outcome') || coalesce('; ' || nullif(a->>'note', ''), ''),
                        p_req);
    PERFORM audit_write(p_principal, p_req, 'close', 'complaint', c.id,
                        jsonb_build_object('followup_outcome', a->>'followup_outcome'));
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_reopen_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF c.state NOT IN ('resolved', 'closed') THEN
        PERFORM complaint_illegal(c, 'reopen', 'resolved or closed');
    END IF;
    UPDATE complaints SET state = 'open', reopened = reopened + 1, acknowledged_at = NULL,
                          resolved_at = NULL, closed_at = NULL, followup_outcome = NULL,
                          updated_at = svc_now()
    WHERE id = c.id AND state IN ('resolved', 'closed');
    PERFORM deadline_set(c.id, 'acknowledge', window_h(c.severity, 'acknowledge'));
    PERFORM deadline_set(c.id, 'resolve', window_h(c.severity, 'resolve'));
    PERFORM history_add(c.id, 'reopened', c.state, 'open', NULL, NULL, NULL, actor(p_principal),
                        nullif(a->>'reason', ''), p_req);
    PERFORM audit_write(p_principal, p_req, 'reopen', 'complaint', c.id, '{}');
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_raise_severity(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
    v_new text := a->>'severity';
    v_old text := c.severity;
    v_kind text;
BEGIN
    IF severity_rank(v_new) IS NULL THEN
        PERFORM fail(400, 'bad_severity', 'severity is general, serious or critical');
    END IF;
    IF severity_rank(v_new) < severity_rank(v_old) THEN
        PERFORM fail(409, 'severity_lowered',
                     format('complaint %s is %s; severity is only ever raised', c.id, v_old));
    END IF;
    IF severity_rank(v_new) = severity_rank(v_old) THEN
        PERFORM fail(409, 'severity_unchanged', format('complaint %s is already %s', c.id, v_old));
    END IF;
    IF c.state = 'closed' THEN
        PERFORM fail(409, 'illegal_transition', format('complaint %s is closed; reopen it first', c.id));
    END IF;
    UPDATE complaints SET severity = v_new, updated_at = svc_now() WHERE id = c.id
    RETURNING * INTO c;
    FOREACH v_kind IN ARRAY ARRAY['acknowledge', 'resolve'] LOOP
        UPDATE complaint_deadlines
        SET due_at = least(due_at, svc_now() + make_interval(hours => window_h(v_new, v_kind))),
            next_check_at = least(next_check_at, svc_now() + make_interval(hours => window_h(v_new, v_kind)))
        WHERE complaint_id = c.id AND kind = v_kind AND met_at IS NULL;
    END LOOP;
    IF v_new = 'serious' AND c.report IS NULL THEN
        INSERT INTO complaint_deadlines(complaint_id, kind, due_at, next_check_at)
        VALUES (c.id, 'report', svc_now() + make_interval(hours => window_h('serious', 'report')),
                svc_now() + make_interval(hours => window_h('serious', 'report')))
        ON CONFLICT DO NOTHING;
    END IF;
    PERFORM history_add(c.id, 'severity_raised', NULL, NULL, NULL, NULL, v_new, actor(p_principal),
                        format('%s -> %s%s', v_old, v_new, coalesce(': ' || nullif(a->>'note', ''), '')),
                        p_req);
    PERFORM audit_write(p_principal, p_req, 'raise_severity', 'complaint', c.id,
                        jsonb_build_object('from', v_old, 'to', v_new));
    IF level_rank(initial_level(v_new)) > level_rank(c.level) THEN
        c := complaint_escalate(c, initial_level(v_new), format('severity raised to %s', v_new),
                                NULL, NULL, actor(p_principal), p_req);
    END IF;
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_file_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    UPDATE complaints SET report = a->>'report', updated_at = svc_now() WHERE id = c.id;
    PERFORM deadline_meet(c.id, 'report');
    PERFORM history_add(c.id, 'report_filed', NULL, NULL, NULL, NULL, NULL, actor(p_principal),
                        left(a->>'report', 200), p_req);
    PERFORM audit_write(p_principal, p_req, 'report', 'complaint', c.id, '{}');
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

-- cmd_assign_complaint is unchanged: only admin may call it, and admin sees phones.
