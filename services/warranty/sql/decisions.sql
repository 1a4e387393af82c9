-- warranty: decisions functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION iso_instant(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN isfinite(t) THEN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                ELSE t::text END
$$;

-- The WarrantyDecided payload for a decision: the contract fields plus the ids intake needs.
CREATE OR REPLACE FUNCTION decided_event(p_decision decisions, p_published jsonb, p_review boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT (p_published - 'id' - 'error') || jsonb_build_object(
        'ticket_id', p_decision.ticket_id, 'decision_id', p_decision.id::text,
        'policy_version', p_decision.policy_version, 'review', p_review)
$$;

-- Record the engine's decision for a ticket (once) and publish it. Adds the reason for review
-- that only the database can see: the same device open at another centre.
CREATE OR REPLACE FUNCTION record_decision(p_ticket text, p_device_key text, p_center text, p_request jsonb,
                                p_decision jsonb, p_published jsonb, p_policy text,
                                p_reasons text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_reasons text[] := coalesce(p_reasons, '{}');
    d decisions;
BEGIN
    IF p_device_key IS NOT NULL AND p_device_key <> '' THEN
        INSERT INTO device_tickets(ticket_id, device_key, center)
            VALUES (p_ticket, p_device_key, coalesce(p_center, ''))
            ON CONFLICT DO NOTHING;
        IF EXISTS (SELECT 1 FROM device_tickets WHERE device_key = p_device_key AND open
                   AND ticket_id <> p_ticket AND center <> coalesce(p_center, '')) THEN
            v_reasons := v_reasons || 'duplicate_claim: the same device has an open ticket at another centre'::text;
        END IF;
    END IF;
    INSERT INTO decisions(ticket_id, center, request, decision, published, policy_version, review,
                          review_reasons)
        VALUES (p_ticket, p_center, p_request, p_decision, p_published, p_policy,
                cardinality(v_reasons) > 0, v_reasons)
        ON CONFLICT (ticket_id) DO NOTHING
        RETURNING * INTO d;
    IF d.id IS NULL THEN
        RETURN; -- decided before (an event delivered again): publish nothing new
    END IF;
    IF d.review THEN
        INSERT INTO reviews(decision_id, ticket_id, center, reasons)
            VALUES (d.id, d.ticket_id, d.center, d.review_reasons);
    END IF;
    PERFORM emit('warranty', 'warranty.WarrantyDecided', decided_event(d, p_published, d.review));
END $$;

-- intake.TicketClosed / intake.TicketCancelled: the device is no longer open there, and a review
-- still pending for the ticket is withdrawn (intake would ignore a decision now).
CREATE OR REPLACE FUNCTION ticket_ended(p_ticket text, p_how text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE device_tickets SET open = false, closed_at = now() WHERE ticket_id = p_ticket AND open;
    UPDATE reviews SET status = 'withdrawn', decided_at = now(),
                       note = format('the ticket was %s before a reviewer decided', p_how)
        WHERE ticket_id = p_ticket AND status = 'pending';
END $$;

CREATE OR REPLACE FUNCTION review_json(r reviews) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', r.id, 'ticket_id', r.ticket_id, 'center', r.center, 'status', r.status,
        'reasons', to_jsonb(r.reasons), 'decision', d.decision,
        'policy_version', d.policy_version, 'created_at', iso_instant(r.created_at),
        'decided_at', iso_instant(r.decided_at), 'decided_by', r.decided_by,
        'action', r.action, 'final', r.final, 'note', r.note,
        'customer_tier', ticket_tier(r.ticket_id)))
    FROM decisions d WHERE d.id = r.decision_id);
END $$;

CREATE OR REPLACE FUNCTION require_reviewer(p_principal jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(p_principal->>'role', '') NOT IN ('admin', 'reviewer') THEN
        PERFORM fail(403, 'forbidden', 'only reviewers and administrators work the review queue');
    END IF;
END $$;

-- GET /v1/warranty/reviews: VIP customers' tickets first, then key accounts', then the others
-- (issue 17.4); the oldest first within each. The cursor is the last review's id; its tier is
-- looked up again (a tier changed between two pages moves its review, like any concurrent change).
CREATE OR REPLACE FUNCTION cmd_list_reviews(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_after bigint := (a->>'after')::bigint;
    v_after_rank int;
    v_rows jsonb;
    v_n int;
BEGIN
    PERFORM require_reviewer(p_principal);
    IF v_after IS NOT NULL THEN
        SELECT tier_rank(ticket_tier(r.ticket_id)) INTO v_after_rank FROM reviews r WHERE r.id = v_after;
        v_after_rank := coalesce(v_after_rank, -1); -- an unknown id: by id alone, from the top rank
    END IF;
    WITH cand AS (
        SELECT r, tier_rank(ticket_tier(r.ticket_id)) AS rank FROM reviews r
        WHERE r.status = coalesce(a->>'status', 'pending')),
    page AS (
        SELECT cand.r, cand.rank FROM cand
        WHERE v_after IS NULL OR cand.rank > v_after_rank
           OR (cand.rank = v_after_rank AND (cand.r).id > v_after)
        ORDER BY cand.rank, (cand.r).id LIMIT v_limit)
    SELECT coalesce(jsonb_agg(review_json(page.r) ORDER BY page.rank, (page.r).id), '[]'), count(*)
        INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_strip_nulls(jsonb_build_object(
        'reviews', v_rows,
        'next', CASE WHEN v_n = v_limit THEN (v_rows->(v_n - 1)->>'id')::bigint END)));
END $$;

-- A reviewer approves the engine's decision or overrides it (the service validated the shape:
-- action, enums, a non-empty reason for an override). The result is stored, audited and published
-- as a new WarrantyDecided with review false, which moves the ticket on.
CREATE OR REPLACE FUNCTION cmd_decide_review(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r reviews;
    d decisions;
    v_who text := coalesce(p_principal->>'subject', 'unknown');
    v_final jsonb;
    v_entitled jsonb;
BEGIN
    PERFORM require_reviewer(p_principal);
    SELECT * INTO r FROM reviews WHERE id = (a->>'id')::bigint FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('review %s not found', a->>'id'));
    END IF;
    IF r.status = 'withdrawn' THEN
        PERFORM fail(409, 'illegal_transition', format('review %s is withdrawn: %s', r.id, r.note));
    ELSIF r.status <> 'pending' THEN
        PERFORM fail(409, 'illegal_transition',
                     format('review %s is decided (%s by %s)', r.id, r.action, r.decided_by));
    END IF;
    SELECT * INTO d FROM decisions WHERE id = r.decision_id FOR UPDATE;
    IF a->>'action' = 'approve' THEN
        v_final := d.published || jsonb_build_object('reason',
            format('Approved by reviewer %s%s: %s', v_who,
                   CASE WHEN coalesce(btrim(a->>'reason'), '') <> '' THEN ' (' || btrim(a->>'reason') || ')' ELSE '' END,
                   coalesce(d.published->>'reason', '')));
    ELSE
        v_entitled := coalesce(a->'entitled', '[]');
        v_final := (d.published - 'error') || jsonb_build_object(
            'status', a->>'status', 'remedy', a->>'remedy', 'entitled', v_entitled,
            'free', coalesce((a->>'free')::boolean, false),
            'reason', format('Reviewer %s overrode the decision: %s', v_who, btrim(a->>'reason')));
        -- Amounts stay only where the remedy they price is still on offer.
        IF NOT (v_entitled ? 'refund' OR a->>'remedy' = 'refund') THEN
            v_final := v_final - 'refund_cents' - 'depreciation_cents';
        END IF;
        IF NOT (v_entitled ?| ARRAY['refund', 'exchange'] OR a->>'remedy' IN ('refund', 'exchange')) THEN
            v_final := v_final - 'use_compensation_cents';
        END IF;
        IF v_final->>'regime' IS NULL THEN
            v_final := v_final || '{"regime": "none", "rules": []}';
        END IF;
    END IF;
    UPDATE reviews SET status = 'decided', action = a->>'action', final = v_final,
                       note = nullif(btrim(coalesce(a->>'reason', '')), ''), decided_by = v_who,
                       decided_at = now()
        WHERE id = r.id AND status = 'pending'
        RETURNING * INTO r;
    UPDATE decisions SET published = v_final WHERE id = d.id RETURNING * INTO d;
    PERFORM audit_write(p_principal, p_req, 'review_' || (a->>'action'), 'review', r.id::text,
                        jsonb_build_object('ticket_id', r.ticket_id, 'reasons', to_jsonb(r.reasons),
                                           'final', v_final, 'note', r.note));
    PERFORM emit('warranty', 'warranty.WarrantyDecided', decided_event(d, v_final, false), p_req);
    RETURN jsonb_build_object('status', 200, 'body', review_json(r));
END $$;
