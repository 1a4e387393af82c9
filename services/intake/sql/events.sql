-- intake: events functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- WarrantyDecided (stream "warranty"): record the decision and move the ticket on.
CREATE OR REPLACE FUNCTION on_warranty_decided(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    v_to text;
BEGIN
    SELECT * INTO t FROM tickets WHERE id = e->>'ticket_id' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN; -- not ours (another intake partition); nothing to do
    END IF;
    v_to := CASE WHEN coalesce((e->>'review')::boolean, false) THEN 'awaiting_review' ELSE 'adjudicated' END;
    UPDATE tickets SET decision = (e - 'ticket_id' - 'decision_id' - 'policy_version'),
                       state = v_to, updated_at = now()
        WHERE id = t.id AND state IN ('received', 'awaiting_review');
    IF FOUND THEN
        INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
            VALUES (t.id, t.state, v_to, 'warranty_decided', 'warranty',
                    (e->>'status') || ': ' || coalesce(e->>'remedy', 'none') || ' — ' || coalesce(e->>'reason', ''));
    END IF;
END $$;

-- A batch of warranty decisions as the consumer collects them (decision 36): each one applied
-- by on_warranty_decided() in sequence order, in one statement for the batch instead of two per
-- event. p_stream is the stream the batch came from (always warranty).
CREATE OR REPLACE FUNCTION on_warranty_decisions(p_stream text, p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    FOR e IN SELECT x.value, x.n FROM jsonb_array_elements(p) WITH ORDINALITY AS x(value, n)
              ORDER BY x.n LOOP
        PERFORM on_warranty_decided(e.value);
    END LOOP;
END $$;

-- intake: PartsReserved delivered again must not add a timeline row. When the first delivery
-- completed the ticket's parts, move() wrote the row with its own note ("N line(s) reserved at
-- SITE"); a later delivery finds the ticket past awaiting_parts and took the other branch, whose
-- guard looked only for its own note ("lines 1,2 reserved at SITE"), so a replayed stream added
-- one row per ticket (found by the fault suite's replay scenario). The guard now recognises
-- both notes.
CREATE OR REPLACE FUNCTION on_parts_reserved(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := mark_lines(e->>'ticket_id', coalesce(e->'lines', '[]'), 'reserved');
    v_lines text := (SELECT string_agg(l->>'line_no', ',') FROM jsonb_array_elements(e->'lines') l);
    v_noted text := format('lines %s reserved at %s', v_lines, e->>'site');
    v_moved text := format('%s line(s) reserved at %s', jsonb_array_length(e->'lines'), e->>'site');
BEGIN
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    -- The repair goes on only when every line of the ticket's own is reserved: `complete` was
    -- computed by parts when it applied the request, and a line requested meanwhile (a second
    -- request before this event arrived) is not in it.
    IF coalesce((e->>'complete')::boolean, false) AND t.state = 'awaiting_parts'
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t.work->'requested', '[]')) r
                       WHERE r->>'status' IN ('requested', 'backordered')) THEN
        PERFORM move(t, 'in_repair', 'parts_reserved', '{"subject": "parts", "role": "service"}',
                     NULL, v_moved);
    ELSIF NOT EXISTS (SELECT 1 FROM ticket_timeline WHERE ticket_id = t.id
                      AND event = 'parts_reserved' AND note IN (v_noted, v_moved)) THEN
        INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
            VALUES (t.id, t.state, t.state, 'parts_reserved', 'parts', v_noted);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION on_parts_backordered(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := mark_lines(e->>'ticket_id', coalesce(e->'lines', '[]'), 'backordered');
BEGIN
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
        SELECT t.id, t.state, t.state, 'parts_backordered', 'parts', v_note
        FROM (SELECT format('lines %s backordered at %s; a transfer from the warehouse is on its way',
                            (SELECT string_agg(l->>'line_no', ',') FROM jsonb_array_elements(e->'lines') l),
                            e->>'site') AS v_note) n
        WHERE NOT EXISTS (SELECT 1 FROM ticket_timeline WHERE ticket_id = t.id
                          AND event = 'parts_backordered' AND note = n.v_note);
END $$;

CREATE OR REPLACE FUNCTION on_charged(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- the scorecard's cost per repair: what the work was charged, whoever pays (the latest
    -- charge set wins: a recount replaces it)
    IF coalesce(e->>'kind', 'repair') = 'repair' AND coalesce(e->>'ticket_id', '') <> '' THEN
        INSERT INTO charge_facts(ticket_id, total_cents)
        VALUES (e->>'ticket_id', coalesce((e->>'customer_cents')::bigint, 0)
                + coalesce((e->>'manufacturer_cents')::bigint, 0)
                + coalesce((e->>'company_cents')::bigint, 0))
        ON CONFLICT (ticket_id) DO UPDATE SET total_cents = EXCLUDED.total_cents,
                                              received_at = now()
            -- a replayed event (the same total) changes nothing
            WHERE charge_facts.total_cents IS DISTINCT FROM EXCLUDED.total_cents;
    END IF;
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
        SELECT t.id, t.state, t.state, 'charged', 'settlement',
               format('customer %s, manufacturer %s, company %s (cents)%s',
                      coalesce(e->>'customer_cents', '0'), coalesce(e->>'manufacturer_cents', '0'),
                      coalesce(e->>'company_cents', '0'),
                      CASE WHEN e->>'invoice_no' IS NOT NULL THEN ', invoice ' || (e->>'invoice_no') ELSE '' END)
        FROM tickets t WHERE t.id = e->>'ticket_id'
          AND NOT EXISTS (SELECT 1 FROM ticket_timeline WHERE ticket_id = t.id AND event = 'charged');
END $$;

-- parts.PartsIssued: the lines were drawn from stock for the repair.
CREATE OR REPLACE FUNCTION on_parts_issued(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mark_lines(e->>'ticket_id',
                       coalesce((SELECT jsonb_agg(l) FROM jsonb_array_elements(e->'lines') l
                                 WHERE l ? 'line_no'), '[]'), 'issued');
END $$;

-- parts.PartsReleased: reserved (or backordered) lines given back (cancelled, returned
-- unrepaired, or not used by the repair).
CREATE OR REPLACE FUNCTION on_parts_released(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mark_lines(e->>'ticket_id',
                       coalesce((SELECT jsonb_agg(l) FROM jsonb_array_elements(e->'lines') l
                                 WHERE l ? 'line_no'), '[]'), 'released');
END $$;

CREATE OR REPLACE FUNCTION on_callback_scheduled(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET callback_id = e->>'callback_id'
        WHERE id = e->>'ticket_id' AND coalesce(e->>'callback_id', '') <> ''
          AND callback_id IS DISTINCT FROM e->>'callback_id';
END $$;

-- surveys.ComplaintOpened: list it on the ticket, and keep it for the centre's scorecard (every
-- complaint naming a centre, with or without a ticket; a repeat changes nothing).
CREATE OR REPLACE FUNCTION on_complaint_opened(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'complaint_id', '') <> '' AND coalesce(e->>'center', '') <> '' THEN
        INSERT INTO complaint_facts(complaint_id, ticket_id, center, region, opened_date)
        VALUES (e->>'complaint_id', nullif(e->>'ticket_id', ''), e->>'center', e->>'region',
                coalesce((e->>'opened_date')::date, (now() AT TIME ZONE 'Asia/Shanghai')::date))
        ON CONFLICT (complaint_id) DO NOTHING;
    END IF;
    UPDATE tickets SET complaints = complaints || (e->>'complaint_id')
        WHERE id = e->>'ticket_id' AND coalesce(e->>'complaint_id', '') <> ''
          AND NOT (e->>'complaint_id' = ANY (complaints));
END $$;

CREATE OR REPLACE FUNCTION on_center_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regions(code, name) VALUES (e->'center'->>'region', e->'center'->>'region')
    ON CONFLICT DO NOTHING;
    INSERT INTO centers(code, name, region, state)
    VALUES (e->'center'->>'code', e->'center'->>'name', e->'center'->>'region',
            coalesce(e->'center'->>'state', 'open'))
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region,
                                     state = EXCLUDED.state;
$$;

CREATE OR REPLACE FUNCTION on_brand_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO brands(brand, manufacturer) VALUES (e->'brand'->>'name', e->'brand'->>'manufacturer')
    ON CONFLICT (brand) DO UPDATE SET manufacturer = EXCLUDED.manufacturer;
$$;

-- surveys opened the complaint a call asked for: link it (a repeat changes nothing), and let
-- the ticket list it too.
CREATE OR REPLACE FUNCTION on_call_complaint_opened(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE calls SET complaint_id = e->>'complaint_id'
        WHERE id = e->>'call_id' AND complaint_id IS NULL;
END $$;

-- surveys.SurveyAnswered: keep the answer's weighted score and NPS for the centre's scorecard.
CREATE OR REPLACE FUNCTION on_survey_answered(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'response_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO survey_facts(response_id, ticket_id, center, region, weighted_milli, nps, answered_date)
    VALUES (e->>'response_id', nullif(e->>'ticket_id', ''), e->>'center', e->>'region',
            (e->>'weighted_milli')::int, (e->>'nps')::int,
            coalesce((e->>'answered_date')::date, (now() AT TIME ZONE 'Asia/Shanghai')::date))
    ON CONFLICT (response_id) DO NOTHING;
END $$;

-- parts.SkuChanged: intake's copy of the parts catalogue (check_skus). An upsert: a delivery seen
-- before changes nothing.
CREATE OR REPLACE FUNCTION on_sku_changed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'sku', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO part_skus(sku, brand, name, category, active)
    VALUES (e->>'sku', e->>'brand', e->>'name', coalesce(e->>'category', 'part'),
            coalesce((e->>'active')::boolean, true))
    ON CONFLICT (sku) DO UPDATE SET brand = EXCLUDED.brand, name = EXCLUDED.name,
                                    category = EXCLUDED.category, active = EXCLUDED.active,
                                    updated_at = now();
END $$;
