-- intake: scorecard functions — the station scorecard, its versioned weights and reward rule,
-- and the rewards posted to settlement (issue 19.5; docs/scorecard.md, decision 0027).
-- One current definition per function, applied with CREATE OR REPLACE on every start.

CREATE OR REPLACE FUNCTION scorecard_weights_on(d date) RETURNS scorecard_weights
LANGUAGE sql STABLE AS $$
    SELECT * FROM scorecard_weights w WHERE w.effective_from <= d
    ORDER BY w.effective_from DESC, w.version DESC LIMIT 1
$$;

CREATE OR REPLACE FUNCTION scorecard_weights_json(w scorecard_weights) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'version', w.version, 'effective_from', w.effective_from::text,
        'turnaround', w.turnaround, 'first_time_fix', w.first_time_fix,
        'repeat_repairs', w.repeat_repairs, 'promise_kept', w.promise_kept,
        'satisfaction', w.satisfaction, 'nps', w.nps, 'complaints', w.complaints,
        'cost_per_repair', w.cost_per_repair, 'parts_fill', w.parts_fill,
        'reward_base_cents', w.reward_base_cents, 'reward_bands', w.reward_bands,
        'note', w.note, 'created_at', iso_ts(w.created_at), 'created_by', w.created_by))
$$;

CREATE OR REPLACE FUNCTION cmd_list_scorecard_weights(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'weight_sets', (SELECT coalesce(jsonb_agg(scorecard_weights_json(w) ORDER BY w.version), '[]')
                        FROM scorecard_weights w),
        'current_version', (scorecard_weights_on((svc_now() AT TIME ZONE 'Asia/Shanghai')::date)).version));
END $$;

-- POST /v1/scorecard/weights (validated field by field in main.c): a new version, in force from
-- effective_from (today or later: a period already scored keeps its weights).
CREATE OR REPLACE FUNCTION cmd_add_scorecard_weights(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    w scorecard_weights;
    v_from date := (a->>'effective_from')::date;
    v_today date := (svc_now() AT TIME ZONE 'Asia/Shanghai')::date;
BEGIN
    IF coalesce(p_principal->>'role', '') NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'only head office may change the scorecard weights');
    END IF;
    IF v_from < v_today THEN
        PERFORM fail(422, 'effective_in_past',
                     format('effective_from: a weight set takes effect today (%s) or later; periods already scored keep their weights', v_today));
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('intake.scorecard_weights'));
    INSERT INTO scorecard_weights(version, effective_from, turnaround, first_time_fix,
                                  repeat_repairs, promise_kept, satisfaction, nps, complaints,
                                  cost_per_repair, parts_fill, reward_base_cents, reward_bands,
                                  note, created_at, created_by)
    VALUES ((SELECT coalesce(max(version), 0) + 1 FROM scorecard_weights), v_from,
            coalesce((a->>'turnaround')::int, 0), coalesce((a->>'first_time_fix')::int, 0),
            coalesce((a->>'repeat_repairs')::int, 0), coalesce((a->>'promise_kept')::int, 0),
            coalesce((a->>'satisfaction')::int, 0), coalesce((a->>'nps')::int, 0),
            coalesce((a->>'complaints')::int, 0), coalesce((a->>'cost_per_repair')::int, 0),
            coalesce((a->>'parts_fill')::int, 0), coalesce((a->>'reward_base_cents')::bigint, 0),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('min_score', coalesce((b->>'min_score')::int, 0),
                                                          'pct', coalesce((b->>'pct')::int, 0))
                                       ORDER BY coalesce((b->>'min_score')::int, 0)), '[]')
             FROM jsonb_array_elements(coalesce(a->'reward_bands', '[]')) b),
            nullif(a->>'note', ''), now(), coalesce(p_principal->>'subject', 'unknown'))
    RETURNING * INTO w;
    PERFORM audit_write(p_principal, p_req, 'add', 'scorecard_weights', w.version::text,
                        scorecard_weights_json(w));
    RETURN jsonb_build_object('status', 201, 'body', scorecard_weights_json(w));
END $$;

-- Clamp to 0..100, one decimal.
CREATE OR REPLACE FUNCTION score_clamp(v numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT round(greatest(0, least(100, v)), 1) $$;

-- The raw facts of every centre over business dates [p_from, p_to] (no scope: the ranking is
-- over the whole region whoever asks). One row per centre of the network.
CREATE OR REPLACE FUNCTION scorecard_facts(p_from date, p_to date)
RETURNS TABLE (center text, region text, tickets int, repaired int, turnaround_h numeric,
               first_time_fix int, repeats int, promise_kept int, promise_ended int,
               responses int, satisfaction numeric, promoters int, detractors int,
               complaints int, charged int, cost_cents numeric, parts_tickets int, parts_filled int)
LANGUAGE sql STABLE AS $$
    -- Each source is read once and grouped by centre (not once per centre; decision 0033): the period's bounds
    -- as instants in China time so the (center, opened_at) index serves the ticket counts.
    WITH b AS (SELECT (p_from::timestamp AT TIME ZONE 'Asia/Shanghai') AS t0,
                      ((p_to + 1)::timestamp AT TIME ZONE 'Asia/Shanghai') AS t1),
    rep AS MATERIALIZED (
        SELECT t.center, d.hours,
               coalesce(jsonb_array_length(t.work->'requested'), 0) > 0 AS asked_parts,
               EXISTS (SELECT 1 FROM ticket_timeline tl WHERE tl.ticket_id = t.id
                       AND tl.event = 'parts_backordered') AS backordered,
               EXISTS (SELECT 1 FROM device_repairs p JOIN tickets pt ON pt.id = p.ticket_id
                       WHERE p.device_key = d.device_key AND pt.opened_at < t.opened_at
                         AND p.returned <= d.dropped_off AND d.dropped_off - p.returned <= 90) AS is_repeat,
               EXISTS (SELECT 1 FROM device_repairs n JOIN tickets nt ON nt.id = n.ticket_id
                       WHERE n.device_key = d.device_key AND nt.opened_at > t.opened_at
                         AND n.dropped_off >= d.returned AND n.dropped_off - d.returned <= 90) AS came_back,
               cf.total_cents
        FROM device_repairs d JOIN tickets t ON t.id = d.ticket_id
        LEFT JOIN charge_facts cf ON cf.ticket_id = d.ticket_id
        WHERE d.returned BETWEEN p_from AND p_to),
    r AS (
        SELECT rep.center, count(*)::int AS n, round(avg(hours), 1) AS hours,
               count(*) FILTER (WHERE NOT came_back)::int AS ftf,
               count(*) FILTER (WHERE is_repeat)::int AS repeats,
               count(total_cents)::int AS charged, round(avg(total_cents)) AS cost,
               count(*) FILTER (WHERE asked_parts)::int AS parts_tickets,
               count(*) FILTER (WHERE asked_parts AND NOT backordered)::int AS parts_filled
        FROM rep GROUP BY rep.center),
    tk AS (
        SELECT t.center, count(*)::int AS n
        FROM tickets t, b WHERE t.opened_at >= b.t0 AND t.opened_at < b.t1
        GROUP BY t.center),
    p AS (
        SELECT t.center, count(*) FILTER (WHERE t.promise_met_at <= t.promised_at)::int AS kept,
               count(*)::int AS ended
        FROM tickets t, b WHERE t.promised_at IS NOT NULL AND t.state IN ('ready', 'closed')
          AND t.promise_met_at >= b.t0 AND t.promise_met_at < b.t1
        GROUP BY t.center),
    s AS (
        SELECT f.center, count(*)::int AS n, avg(f.weighted_milli) AS avg_milli,
               count(*) FILTER (WHERE f.nps >= 9)::int AS promoters,
               count(*) FILTER (WHERE f.nps <= 6)::int AS detractors
        FROM survey_facts f WHERE f.answered_date BETWEEN p_from AND p_to
        GROUP BY f.center),
    cp AS (
        SELECT f.center, count(*)::int AS n
        FROM complaint_facts f WHERE f.opened_date BETWEEN p_from AND p_to
        GROUP BY f.center)
    SELECT c.code, c.region, coalesce(tk.n, 0),
           coalesce(r.n, 0), r.hours, coalesce(r.ftf, 0), coalesce(r.repeats, 0),
           coalesce(p.kept, 0), coalesce(p.ended, 0),
           coalesce(s.n, 0), s.avg_milli, coalesce(s.promoters, 0), coalesce(s.detractors, 0),
           coalesce(cp.n, 0),
           coalesce(r.charged, 0), r.cost, coalesce(r.parts_tickets, 0), coalesce(r.parts_filled, 0)
    FROM centers c
    LEFT JOIN r ON r.center = c.code
    LEFT JOIN tk ON tk.center = c.code
    LEFT JOIN p ON p.center = c.code
    LEFT JOIN s ON s.center = c.code
    LEFT JOIN cp ON cp.center = c.code
$$;

-- One metric as JSON: {key, value, unit, score, weight, basis} or {key, reason, weight, basis}.
CREATE OR REPLACE FUNCTION scorecard_metric(p_key text, p_value numeric, p_unit text, p_score numeric,
                                            p_weight int, p_basis int, p_reason text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'key', p_key, 'value', p_value, 'unit', p_unit,
        'score', CASE WHEN p_value IS NOT NULL THEN p_score END, 'weight', p_weight,
        'basis', p_basis, 'reason', CASE WHEN p_value IS NULL THEN p_reason END))
$$;

-- Every centre's row: metrics, weighted score and rank in its region (see docs/scorecard.md for
-- the definitions and the scores).
CREATE OR REPLACE FUNCTION scorecard_all(p_from date, p_to date, w scorecard_weights) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH f AS (SELECT * FROM scorecard_facts(p_from, p_to)),
    v AS (
        SELECT f.*,
               f.turnaround_h AS v_turn,
               CASE WHEN f.repaired > 0 THEN round(100.0 * f.first_time_fix / f.repaired, 1) END AS v_ftf,
               CASE WHEN f.repaired > 0 THEN round(100.0 * f.repeats / f.repaired, 1) END AS v_rep,
               CASE WHEN f.promise_ended > 0 THEN round(100.0 * f.promise_kept / f.promise_ended, 1) END AS v_prom,
               CASE WHEN f.responses > 0 THEN round(f.satisfaction / 1000.0, 3) END AS v_sat,
               CASE WHEN f.responses > 0 THEN round(100.0 * (f.promoters - f.detractors) / f.responses, 1) END AS v_nps,
               CASE WHEN f.tickets > 0 THEN round(100.0 * f.complaints / f.tickets, 1) END AS v_cmp,
               f.cost_cents AS v_cost,
               CASE WHEN f.parts_tickets > 0 THEN round(100.0 * f.parts_filled / f.parts_tickets, 1) END AS v_fill
        FROM f),
    s AS (
        SELECT v.*,
               score_clamp(100 - (v_turn - 24) * 100.0 / 144) AS s_turn,
               score_clamp(v_ftf) AS s_ftf,
               score_clamp(100 - v_rep) AS s_rep,
               score_clamp(v_prom) AS s_prom,
               score_clamp((v_sat - 1) * 25) AS s_sat,
               score_clamp((v_nps + 100) / 2) AS s_nps,
               score_clamp(100 - 10 * v_cmp) AS s_cmp,
               score_clamp(CASE WHEN v_cost = 0 THEN 100
                                ELSE 100.0 * min(v_cost) OVER (PARTITION BY region) / v_cost END) AS s_cost,
               score_clamp(v_fill) AS s_fill
        FROM v),
    m AS (
        SELECT s.*, jsonb_build_array(
            scorecard_metric('turnaround_hours', v_turn, 'hours', s_turn, w.turnaround, repaired, 'no repair completed in the period'),
            scorecard_metric('first_time_fix_pct', v_ftf, 'percent', s_ftf, w.first_time_fix, repaired, 'no repair completed in the period'),
            scorecard_metric('repeat_repair_pct', v_rep, 'percent', s_rep, w.repeat_repairs, repaired, 'no repair completed in the period'),
            scorecard_metric('promise_kept_pct', v_prom, 'percent', s_prom, w.promise_kept, promise_ended, 'no promise ended by a repair in the period'),
            scorecard_metric('satisfaction', v_sat, 'score 1-5', s_sat, w.satisfaction, responses, 'no survey answered in the period'),
            scorecard_metric('nps', v_nps, 'points', s_nps, w.nps, responses, 'no survey answered in the period'),
            scorecard_metric('complaints_per_100', v_cmp, 'per 100 tickets', s_cmp, w.complaints, tickets, 'no ticket opened in the period'),
            scorecard_metric('cost_per_repair_cents', v_cost, 'cents', s_cost, w.cost_per_repair, charged, 'no completed repair charged yet'),
            scorecard_metric('parts_fill_pct', v_fill, 'percent', s_fill, w.parts_fill, parts_tickets, 'no completed repair needed parts')) AS metrics
        FROM s),
    sc AS (
        SELECT m.*,
               (SELECT CASE WHEN sum((x->>'weight')::int) > 0
                            THEN round(sum((x->>'score')::numeric * (x->>'weight')::int) / sum((x->>'weight')::int), 1) END
                FROM jsonb_array_elements(m.metrics) x WHERE x ? 'score') AS score
        FROM m)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'center', sc.center, 'region', sc.region, 'tickets', sc.tickets, 'repaired', sc.repaired,
               'metrics', sc.metrics, 'score', sc.score,
               'rank', CASE WHEN sc.score IS NOT NULL THEN rnk END,
               'region_centers', nr)) ORDER BY sc.region, rnk NULLS LAST, sc.center), '[]')
    FROM (SELECT sc.*,
                 rank() OVER (PARTITION BY sc.region ORDER BY sc.score DESC NULLS LAST) AS rnk,
                 count(sc.score) OVER (PARTITION BY sc.region) AS nr
          FROM sc) sc
$$;

CREATE OR REPLACE FUNCTION scorecard_period(a jsonb, OUT v_from date, OUT v_to date)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    v_to := coalesce((a->>'to')::date, (svc_now() AT TIME ZONE 'Asia/Shanghai')::date);
    v_from := coalesce((a->>'from')::date, v_to - 29);
    IF v_from > v_to THEN
        PERFORM fail(400, 'validation', 'from: is after to');
    END IF;
    IF a->>'region' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM regions WHERE code = a->>'region') THEN
        PERFORM fail(422, 'unknown_region', format('region: %s is not a known region', a->>'region'));
    END IF;
    IF a->>'center' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM centers WHERE code = a->>'center') THEN
        PERFORM fail(422, 'unknown_center', format('center: %s is not a known centre', a->>'center'));
    END IF;
END $$;

-- GET /v1/reports/scorecard: the rows the caller may see (admin and finance all, a region its
-- region, a centre its own), filtered by region and centre; ranks are over the whole region.
CREATE OR REPLACE FUNCTION cmd_scorecard(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p record := scorecard_period(a);
    w scorecard_weights := scorecard_weights_on(p.v_to);
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'from', p.v_from::text, 'to', p.v_to::text, 'weights_version', w.version,
        'rows', (SELECT coalesce(jsonb_agg(r ORDER BY n), '[]')
                 FROM jsonb_array_elements(scorecard_all(p.v_from, p.v_to, w)) WITH ORDINALITY AS x(r, n)
                 WHERE may_see(p_principal, r->>'center', r->>'region')
                   AND (a->>'region' IS NULL OR r->>'region' = a->>'region')
                   AND (a->>'center' IS NULL OR r->>'center' = a->>'center'))));
END $$;

CREATE OR REPLACE FUNCTION scorecard_reward_json(r scorecard_rewards, p_already boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'center', r.center, 'region', r.region, 'from', r.period_from::text,
        'to', r.period_to::text, 'score', r.score, 'weights_version', r.weights_version,
        'repaired', r.repaired, 'band_pct', r.band_pct, 'amount_cents', r.amount_cents,
        'already_posted', p_already, 'posted_at', iso_ts(r.posted_at), 'posted_by', r.posted_by)
$$;

-- The rewards of one closed period for every scored centre in the filter (region, centre): each
-- centre once per period — a reward already made for exactly this period is answered again
-- (already_posted) and nothing is posted. A centre whose rewarded period overlaps this one is
-- refused (409 overlapping_period), or with p_lenient listed in `skipped`. With p_dry nothing
-- is written: the rewards are computed from the facts as they are now (a recount).
-- Returns {rewards: [...], skipped: [{center, reason, reward_id}]}.
CREATE OR REPLACE FUNCTION scorecard_post_period(p_principal jsonb, p_req text, p_from date, p_to date,
                                                 p_region text, p_center text, p_lenient boolean,
                                                 p_dry boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_today date := (svc_now() AT TIME ZONE 'Asia/Shanghai')::date;
    w scorecard_weights := scorecard_weights_on(p_to);
    v_row jsonb;
    r scorecard_rewards;
    v_out jsonb := '[]';
    v_skipped jsonb := '[]';
    v_pct int;
    v_clash text;
BEGIN
    FOR v_row IN SELECT x FROM jsonb_array_elements(scorecard_all(p_from, p_to, w)) x
               WHERE (p_region IS NULL OR x->>'region' = p_region)
                 AND (p_center IS NULL OR x->>'center' = p_center)
                 AND x ? 'score'
               ORDER BY x->>'center'
    LOOP
        SELECT * INTO r FROM scorecard_rewards
        WHERE center = v_row->>'center' AND period_from = p_from AND period_to = p_to;
        IF FOUND THEN
            v_out := v_out || scorecard_reward_json(r, true);
            CONTINUE;
        END IF;
        SELECT id INTO v_clash FROM scorecard_rewards
        WHERE center = v_row->>'center' AND period_from <= p_to AND period_to >= p_from LIMIT 1;
        IF v_clash IS NOT NULL THEN
            IF p_lenient THEN
                v_skipped := v_skipped || jsonb_build_object('center', v_row->>'center',
                    'reason', 'overlapping_period', 'reward_id', v_clash);
                CONTINUE;
            END IF;
            PERFORM fail(409, 'overlapping_period',
                         format('centre %s already has reward %s for a period overlapping %s..%s',
                                v_row->>'center', v_clash, p_from, p_to));
        END IF;
        SELECT coalesce((SELECT (b->>'pct')::int FROM jsonb_array_elements(w.reward_bands) b
                         WHERE (b->>'min_score')::numeric <= (v_row->>'score')::numeric
                         ORDER BY (b->>'min_score')::numeric DESC LIMIT 1), 0) INTO v_pct;
        r := ROW(NULL, v_row->>'center', v_row->>'region', p_from, p_to,
                 (v_row->>'score')::numeric, w.version, (v_row->>'repaired')::int, v_pct,
                 round(w.reward_base_cents * (v_row->>'repaired')::int * v_pct / 100.0)::bigint,
                 now(), coalesce(p_principal->>'subject', 'unknown'))::scorecard_rewards;
        IF p_dry THEN
            v_out := v_out || (scorecard_reward_json(r, false) - 'id' - 'posted_at' - 'posted_by');
            CONTINUE;
        END IF;
        r.id := 'RW' || lpad(nextval('scorecard_reward_no')::text, 8, '0');
        INSERT INTO scorecard_rewards SELECT r.* RETURNING * INTO r;
        PERFORM audit_write(p_principal, p_req, 'reward', 'scorecard_reward', r.id,
                            scorecard_reward_json(r, false));
        IF r.amount_cents > 0 THEN
            PERFORM emit('intake', 'intake.CenterRewardPosted', jsonb_build_object(
                'reward_id', r.id, 'center', r.center, 'region', r.region,
                'from', r.period_from::text, 'to', r.period_to::text,
                'amount_cents', r.amount_cents, 'score', r.score,
                'weights_version', r.weights_version, 'business_date', v_today::text), p_req);
        END IF;
        v_out := v_out || scorecard_reward_json(r, false);
    END LOOP;
    RETURN jsonb_build_object('rewards', v_out, 'skipped', v_skipped);
END $$;

-- POST /v1/reports/scorecard/rewards: for a closed period (it ended before today), every scored
-- centre in the filter gets its market-maintenance reward once: base × repaired × band % / 100
-- (the highest band whose min_score the score reaches), rounded to the cent. A second run for
-- the same period answers the same rewards (already_posted) and posts nothing; a period that
-- overlaps a rewarded one for the same centre is refused (409). A reward above zero is published
-- as intake.CenterRewardPosted: settlement books it as a payable to the centre.
CREATE OR REPLACE FUNCTION cmd_scorecard_rewards(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    p record := scorecard_period(a);
    v_today date := (svc_now() AT TIME ZONE 'Asia/Shanghai')::date;
BEGIN
    IF coalesce(p_principal->>'role', '') NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'only head office may post scorecard rewards');
    END IF;
    IF a->>'from' IS NULL OR a->>'to' IS NULL THEN
        PERFORM fail(400, 'validation', format('%s: is required', CASE WHEN a->>'from' IS NULL THEN 'from' ELSE 'to' END));
    END IF;
    IF p.v_to >= v_today THEN
        PERFORM fail(409, 'period_open', format('to: the period must be closed (end before today, %s)', v_today));
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('intake.scorecard_rewards'));
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object('rewards',
        scorecard_post_period(p_principal, p_req, p.v_from, p.v_to, a->>'region', a->>'center',
                              false, false)->'rewards'));
END $$;

-- POST /v1/reports/scorecard/rewards/backfill {from_month, to_month[, region][, center]
-- [, dry_run]}: the rewards of every calendar month in the range (each month a period, the
-- months closed: to_month before the current month), oldest first, as the monthly rewards
-- command would post them — once: a month already rewarded is answered again (already_posted)
-- and posts nothing, so running the backfill twice posts once. A centre whose rewarded period
-- overlaps a month is listed in that month's `skipped`, not refused. dry_run recomputes the
-- months from today's facts and writes nothing. At most 36 months.
CREATE OR REPLACE FUNCTION cmd_scorecard_backfill(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_today date := (svc_now() AT TIME ZONE 'Asia/Shanghai')::date;
    v_first date;
    v_last date;
    v_m date;
    v_dry boolean := coalesce((a->>'dry_run')::boolean, false);
    v_res jsonb;
    v_periods jsonb := '[]';
    v_posted int := 0;
    v_already int := 0;
    v_skipped int := 0;
BEGIN
    IF coalesce(p_principal->>'role', '') NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'only head office may post scorecard rewards');
    END IF;
    PERFORM scorecard_period(jsonb_build_object('from', '2000-01-01', 'to', '2000-01-01',
                                                'region', a->>'region', 'center', a->>'center'));
    v_first := (a->>'from_month' || '-01')::date;
    v_last := (a->>'to_month' || '-01')::date;
    IF v_first > v_last THEN
        PERFORM fail(400, 'validation', 'from_month: is after to_month');
    END IF;
    IF v_last >= date_trunc('month', v_today)::date THEN
        PERFORM fail(409, 'period_open',
                     format('to_month: %s is not over yet (months before %s only)', a->>'to_month',
                            to_char(v_today, 'YYYY-MM')));
    END IF;
    IF v_last > (v_first + interval '35 months')::date THEN
        PERFORM fail(400, 'validation', 'to_month: at most 36 months at a time');
    END IF;
    IF NOT v_dry THEN
        PERFORM pg_advisory_xact_lock(hashtext('intake.scorecard_rewards'));
    END IF;
    v_m := v_first;
    WHILE v_m <= v_last LOOP
        v_res := scorecard_post_period(p_principal, p_req, v_m, (v_m + interval '1 month - 1 day')::date,
                                       a->>'region', a->>'center', true, v_dry);
        v_posted := v_posted + (SELECT count(*) FROM jsonb_array_elements(v_res->'rewards') x
                                WHERE NOT (x->>'already_posted')::boolean)::int;
        v_already := v_already + (SELECT count(*) FROM jsonb_array_elements(v_res->'rewards') x
                                  WHERE (x->>'already_posted')::boolean)::int;
        v_skipped := v_skipped + jsonb_array_length(v_res->'skipped');
        v_periods := v_periods || jsonb_build_object(
            'from', v_m::text, 'to', (v_m + interval '1 month - 1 day')::date::text,
            'rewards', v_res->'rewards', 'skipped', v_res->'skipped');
        v_m := (v_m + interval '1 month')::date;
    END LOOP;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'periods', v_periods, 'posted', CASE WHEN v_dry THEN 0 ELSE v_posted END,
        'computed', v_posted, 'already_posted', v_already, 'skipped', v_skipped,
        'dry_run', v_dry));
END $$;
