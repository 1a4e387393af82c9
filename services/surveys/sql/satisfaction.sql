-- surveys: satisfaction functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Weight sets can be added, never changed or removed.
CREATE OR REPLACE FUNCTION weight_sets_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'weight sets are append-only' USING ERRCODE = '23514';
END $$;

CREATE OR REPLACE TRIGGER weight_sets_frozen BEFORE UPDATE OR DELETE ON weight_sets
    FOR EACH ROW EXECUTE FUNCTION weight_sets_frozen();

CREATE OR REPLACE FUNCTION weight_set_on(d date) RETURNS weight_sets
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w weight_sets;
BEGIN
    SELECT * INTO w FROM weight_sets ws WHERE ws.effective_from <= d
    ORDER BY ws.effective_from DESC, ws.version DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN w;
END $$;

CREATE OR REPLACE FUNCTION weight_set_json(w weight_sets) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'version', w.version, 'effective_from', w.effective_from::text,
        'attitude', w.attitude, 'repair_quality', w.repair_quality,
        'timeliness', w.timeliness, 'price', w.price, 'facilities', w.facilities,
        'note', w.note, 'created_at', ts_text(w.created_at), 'created_by', w.created_by))
$$;

-- Responses are facts: never rescored, never edited.
CREATE OR REPLACE FUNCTION responses_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'survey responses are immutable' USING ERRCODE = '23514';
END $$;

CREATE OR REPLACE TRIGGER responses_frozen BEFORE UPDATE OR DELETE ON responses
    FOR EACH ROW EXECUTE FUNCTION responses_frozen();

CREATE OR REPLACE FUNCTION response_json(r responses, p_complaint text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', r.id, 'attitude', r.attitude, 'repair_quality', r.repair_quality,
        'timeliness', r.timeliness, 'price', r.price, 'facilities', r.facilities, 'nps', r.nps,
        'comment', r.comment, 'weight_version', r.weight_version,
        'weighted_score', milli_text(r.weighted_milli), 'answered_at', ts_text(r.answered_at),
        'answered_by', r.answered_by, 'low', r.low, 'complaint_id', p_complaint))
$$;

CREATE OR REPLACE FUNCTION cmd_add_weight_set(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    w weight_sets;
    v_from date := (a->>'effective_from')::date;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'only head office may change the survey weights');
    END IF;
    IF v_from < svc_today() THEN
        PERFORM fail(422, 'effective_in_past',
                     format('a weight set takes effect today (%s) or later; scores already given keep their weights', svc_today()));
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('surveys.weight_sets'));
    INSERT INTO weight_sets(version, effective_from, attitude, repair_quality, timeliness, price,
                            facilities, note, created_at, created_by)
    VALUES ((SELECT coalesce(max(version), 0) + 1 FROM weight_sets), v_from,
            (a->>'attitude')::int, (a->>'repair_quality')::int, (a->>'timeliness')::int,
            (a->>'price')::int, (a->>'facilities')::int, nullif(a->>'note', ''), svc_now(),
            actor(p_principal))
    RETURNING * INTO w;
    PERFORM audit_write(p_principal, p_req, 'add', 'weight_set', w.version::text, weight_set_json(w));
    RETURN jsonb_build_object('status', 201, 'body', weight_set_json(w));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_weight_sets(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'weight_sets', (SELECT coalesce(jsonb_agg(weight_set_json(w) ORDER BY w.version), '[]')
                        FROM weight_sets w),
        'current_version', (weight_set_on(svc_today())).version));
END $$;

-- Per centre or region, over business dates [from, to]: responses answered in the range (mean
-- weighted score of the stored scores, NPS), and the response rate of the callbacks first due in
-- the range (answered / due). Scores are read as stored: a new weight set changes nothing here.
CREATE OR REPLACE FUNCTION cmd_satisfaction_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_group text := coalesce(a->>'group', 'center');
    v_to date := coalesce((a->>'to')::date, svc_today());
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_rows jsonb;
BEGIN
    IF v_group NOT IN ('center', 'region') THEN
        PERFORM fail(400, 'bad_group', 'group is center or region');
    END IF;
    IF v_from > v_to THEN
        PERFORM fail(400, 'bad_range', 'from is after to');
    END IF;
    WITH resp AS (
        SELECT CASE v_group WHEN 'center' THEN r.center ELSE coalesce(r.region, '-') END AS k,
               r.weighted_milli, r.nps
        FROM responses r
        WHERE r.answered_date BETWEEN v_from AND v_to AND may_see(p_principal, r.center, r.region)),
    due AS (
        SELECT CASE v_group WHEN 'center' THEN cb.center ELSE coalesce(cb.region, '-') END AS k,
               cb.state
        FROM callbacks cb
        WHERE cb.first_due_at >= day_start(v_from) AND cb.first_due_at < day_start(v_to + 1)
          AND may_see(p_principal, cb.center, cb.region)),
    keys AS (SELECT k FROM resp UNION SELECT k FROM due),
    rows_ AS (
        SELECT keys.k,
               (SELECT count(*) FROM resp WHERE resp.k = keys.k)::int AS n,
               (SELECT avg(weighted_milli) FROM resp WHERE resp.k = keys.k) AS avg_milli,
               (SELECT count(*) FROM resp WHERE resp.k = keys.k AND nps >= 9)::int AS pro,
               (SELECT count(*) FROM resp WHERE resp.k = keys.k AND nps BETWEEN 7 AND 8)::int AS pas,
               (SELECT count(*) FROM resp WHERE resp.k = keys.k AND nps <= 6)::int AS det,
               (SELECT count(*) FROM due WHERE due.k = keys.k)::int AS due_n,
               (SELECT count(*) FROM due WHERE due.k = keys.k AND due.state = 'answered')::int AS ans
        FROM keys)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'key', k, 'responses', n,
               'weighted_score', CASE WHEN n > 0 THEN milli_text(avg_milli) END,
               'nps', CASE WHEN n > 0 THEN round(100.0 * (pro - det) / n, 1)::text END,
               'promoters', pro, 'passives', pas, 'detractors', det,
               'callbacks_due', due_n, 'answered', ans,
               'response_rate', CASE WHEN due_n > 0 THEN round(ans::numeric / due_n, 3)::text END))
               ORDER BY k), '[]')
    INTO v_rows FROM rows_;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'group', v_group, 'from', v_from::text, 'to', v_to::text, 'rows', v_rows));
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

-- Complaints created in [from, to] per cause, severity or centre: how many, how many closed, and
-- the mean and median hours from creation to (the latest) close.
CREATE OR REPLACE FUNCTION cmd_complaint_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_group text := coalesce(a->>'group', 'cause');
    v_to date := coalesce((a->>'to')::date, svc_today());
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_rows jsonb;
BEGIN
    IF v_group NOT IN ('cause', 'severity', 'center') THEN
        PERFORM fail(400, 'bad_group', 'group is cause, severity or center');
    END IF;
    IF v_from > v_to THEN
        PERFORM fail(400, 'bad_range', 'from is after to');
    END IF;
    WITH x AS (
        SELECT CASE v_group WHEN 'cause' THEN c.cause WHEN 'severity' THEN c.severity
                            ELSE coalesce(c.center, '-') END AS k,
               c.state, c.escalations,
               CASE WHEN c.closed_at IS NOT NULL
                    THEN extract(epoch FROM c.closed_at - c.created_at)::numeric / 3600 END AS h
        FROM complaints c
        WHERE c.created_at >= day_start(v_from) AND c.created_at < day_start(v_to + 1)
          AND may_see(p_principal, c.center, c.region)),
    g AS (
        SELECT k, count(*)::int AS n, count(h)::int AS closed, avg(h) AS avg_h,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY h) AS med_h,
               count(*) FILTER (WHERE escalations > 0)::int AS esc,
               count(*) FILTER (WHERE state <> 'closed')::int AS open_
        FROM x GROUP BY k)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'key', k, 'count', n, 'closed', closed,
               'avg_hours_to_close', round(avg_h, 1)::text,
               'median_hours_to_close', round(med_h::numeric, 1)::text,
               'escalated', esc, 'open', open_)) ORDER BY k), '[]')
    INTO v_rows FROM g;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'group', v_group, 'from', v_from::text, 'to', v_to::text, 'rows', v_rows));
END $$;
