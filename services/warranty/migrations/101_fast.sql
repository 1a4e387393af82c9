-- warranty: the same functions, cheaper.
--
-- PostgreSQL does not cache the plans of LANGUAGE sql functions that are not inlined: every
-- call parses and plans the body again. PL/pgSQL keeps its plans for the session. So the SQL
-- functions on the command and event paths that the planner cannot inline (a sub-select, a
-- FROM clause, several statements) are redefined here in PL/pgSQL with the same signature and
-- the same results; the two declared IMMUTABLE while their bodies are only STABLE (to_char,
-- jsonb_build_object, timestamptz -> text) are declared STABLE, and then inline.

-- ---- inlined: declared STABLE, as their bodies are -------------------------------------------

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

-- ---- PL/pgSQL -----------------------------------------------------------------------------------

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
        'action', r.action, 'final', r.final, 'note', r.note))
    FROM decisions d WHERE d.id = r.decision_id);
END $$;
