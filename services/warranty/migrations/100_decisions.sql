-- warranty: policy versions (manufacturer promises, fault codes, rates, holidays), decisions with
-- their inputs and the policy version they used, the devices' open tickets (duplicate claims),
-- and the manual-review queue.

-- ---- policies -------------------------------------------------------------------------------
--
-- A policy version is immutable once written. The version in force at an instant is the one with
-- the latest effective_from not after it; the service loads it at start and again whenever
-- another version becomes the one in force. Every decision names the version it used, so it can
-- be re-evaluated later under exactly the same data.

CREATE TABLE policy_versions (
    version                text PRIMARY KEY CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    effective_from         timestamptz NOT NULL UNIQUE,
    description            text NOT NULL DEFAULT '',
    -- M-10: depreciation per day of use of a phone host, parts per million of the price.
    phone_depreciation_ppm bigint NOT NULL DEFAULT 5000 CHECK (phone_depreciation_ppm BETWEEN 0 AND 1000000),
    -- C-9: the car use-compensation rate when the request carries none, ppm per 1000 km.
    car_use_comp_ppm       bigint NOT NULL DEFAULT 5000 CHECK (car_use_comp_ppm BETWEEN 0 AND 1000000),
    based_on               text REFERENCES policy_versions(version),
    created_at             timestamptz NOT NULL DEFAULT now()
);

-- Manufacturer promises above the legal floor: extra months per brand and product category
-- ('*' = every category of the brand). A promise can only widen the statute (months >= 0).
CREATE TABLE policy_promises (
    version               text NOT NULL REFERENCES policy_versions(version),
    brand                 text NOT NULL CHECK (length(brand) BETWEEN 1 AND 60),
    category              text NOT NULL CHECK (category IN ('*', 'phone_host', 'phone_battery',
                              'phone_charger', 'phone_headset', 'phone_data_card',
                              'phone_terminal_card', 'car', 'general')),
    extra_validity_months int NOT NULL DEFAULT 0 CHECK (extra_validity_months BETWEEN 0 AND 120),
    extra_warranty_months int NOT NULL DEFAULT 0 CHECK (extra_warranty_months BETWEEN 0 AND 120)
);
CREATE UNIQUE INDEX policy_promises_key ON policy_promises (version, lower(brand), category);

-- The fault-code table (M-14): a known code decides whether the fault is a listed performance
-- fault. A code the table does not know sends the ticket to a reviewer.
CREATE TABLE policy_fault_codes (
    version     text NOT NULL REFERENCES policy_versions(version),
    code        text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$'),
    category    text NOT NULL CHECK (category IN ('*', 'phone_host', 'phone_battery',
                    'phone_charger', 'phone_headset', 'phone_data_card', 'phone_terminal_card',
                    'car', 'general')),
    listed      boolean NOT NULL,
    description text NOT NULL DEFAULT '',
    PRIMARY KEY (version, code, category)
);

-- Statutory holidays (D-3): a validity or warranty period ending on one ends the day after.
CREATE TABLE policy_holidays (
    version text NOT NULL REFERENCES policy_versions(version),
    day     date NOT NULL,
    name    text NOT NULL DEFAULT '',
    PRIMARY KEY (version, day)
);

-- The floor every later version builds on: the statute alone.
INSERT INTO policy_versions(version, effective_from, description)
VALUES ('statutory', '-infinity', 'The statutory floor: no manufacturer promises, no fault-code '
        'table, no holiday calendar, default depreciation and use-compensation rates.');

-- The version p_version when given (NULL when it does not exist), else the one in force now.
CREATE FUNCTION policy_pick(p_version text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_version IS NOT NULL
                THEN (SELECT version FROM policy_versions WHERE version = p_version)
                ELSE (SELECT version FROM policy_versions WHERE effective_from <= now()
                      ORDER BY effective_from DESC LIMIT 1) END
$$;

CREATE FUNCTION iso_instant(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN isfinite(t) THEN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                ELSE t::text END
$$;

-- A policy version as the PolicyInfo message.
CREATE FUNCTION policy_info(p_version text, p_created boolean DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
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
    FROM policy_versions v WHERE v.version = p_version
$$;

-- Raise 400 invalid_policy unless jsonb value v has JSON type t (NULL passes when p_optional).
CREATE FUNCTION policy_expect(v jsonb, t text, p_what text, p_optional boolean DEFAULT false)
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
CREATE FUNCTION policy_publish(d jsonb, p_if_absent boolean) RETURNS boolean
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

CREATE FUNCTION cmd_publish_policy(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE FUNCTION cmd_get_policy(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v text := policy_pick(a->>'version');
BEGIN
    IF v IS NULL THEN
        PERFORM fail(404, 'not_found', format('policy version %s not found', coalesce(a->>'version', '(in force)')));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', policy_info(v));
END $$;

-- ---- devices and decisions ------------------------------------------------------------------

-- Tickets per device, followed from intake's events (opened, closed, cancelled): the same device
-- open at two centres at once is a possible duplicate claim.
CREATE TABLE device_tickets (
    ticket_id  text PRIMARY KEY,
    device_key text NOT NULL,
    center     text NOT NULL,
    open       boolean NOT NULL DEFAULT true,
    opened_at  timestamptz NOT NULL DEFAULT now(),
    closed_at  timestamptz
);
CREATE INDEX device_tickets_device ON device_tickets (device_key) WHERE open;

CREATE TABLE decisions (
    id             bigserial PRIMARY KEY,
    ticket_id      text NOT NULL UNIQUE,
    center         text,
    request        jsonb NOT NULL,   -- the contract request the engine saw
    decision       jsonb NOT NULL,   -- the engine's answer (a decision, or {"id","error"})
    published      jsonb NOT NULL,   -- the decision last announced for the ticket
    policy_version text NOT NULL REFERENCES policy_versions(version),
    review         boolean NOT NULL,
    review_reasons text[] NOT NULL DEFAULT '{}',
    decided_at     timestamptz NOT NULL DEFAULT now()
);

-- ---- manual review --------------------------------------------------------------------------

CREATE TABLE reviews (
    id          bigserial PRIMARY KEY,
    decision_id bigint NOT NULL UNIQUE REFERENCES decisions(id),
    ticket_id   text NOT NULL,
    center      text,
    reasons     text[] NOT NULL CHECK (cardinality(reasons) > 0),
    -- pending -> decided (a reviewer answered) | withdrawn (the ticket ended before that)
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'decided', 'withdrawn')),
    action      text CHECK (action IN ('approve', 'override')),
    final       jsonb,
    note        text,
    decided_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    CHECK ((status = 'decided') = (action IS NOT NULL)),
    CHECK ((status = 'decided') = (final IS NOT NULL)),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (action IS DISTINCT FROM 'override' OR length(btrim(coalesce(note, ''))) > 0)
);
CREATE INDEX reviews_status ON reviews (status, id);

-- The WarrantyDecided payload for a decision: the contract fields plus the ids intake needs.
CREATE FUNCTION decided_event(p_decision decisions, p_published jsonb, p_review boolean)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_published - 'id' - 'error') || jsonb_build_object(
        'ticket_id', p_decision.ticket_id, 'decision_id', p_decision.id::text,
        'policy_version', p_decision.policy_version, 'review', p_review)
$$;

-- Record the engine's decision for a ticket (once) and publish it. Adds the reason for review
-- that only the database can see: the same device open at another centre.
CREATE FUNCTION record_decision(p_ticket text, p_device_key text, p_center text, p_request jsonb,
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
CREATE FUNCTION ticket_ended(p_ticket text, p_how text) RETURNS void
LANGUAGE sql AS $$
    UPDATE device_tickets SET open = false, closed_at = now() WHERE ticket_id = p_ticket AND open;
    UPDATE reviews SET status = 'withdrawn', decided_at = now(),
                       note = format('the ticket was %s before a reviewer decided', p_how)
        WHERE ticket_id = p_ticket AND status = 'pending';
$$;

-- ---- review commands ------------------------------------------------------------------------

CREATE FUNCTION review_json(r reviews) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', r.id, 'ticket_id', r.ticket_id, 'center', r.center, 'status', r.status,
        'reasons', to_jsonb(r.reasons), 'decision', d.decision,
        'policy_version', d.policy_version, 'created_at', iso_instant(r.created_at),
        'decided_at', iso_instant(r.decided_at), 'decided_by', r.decided_by,
        'action', r.action, 'final', r.final, 'note', r.note))
    FROM decisions d WHERE d.id = r.decision_id
$$;

CREATE FUNCTION require_reviewer(p_principal jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(p_principal->>'role', '') NOT IN ('admin', 'reviewer') THEN
        PERFORM fail(403, 'forbidden', 'only reviewers and administrators work the review queue');
    END IF;
END $$;

CREATE FUNCTION cmd_list_reviews(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_rows jsonb;
    v_n int;
BEGIN
    PERFORM require_reviewer(p_principal);
    WITH page AS (
        SELECT r FROM reviews r
        WHERE r.status = coalesce(a->>'status', 'pending')
          AND (a->>'after' IS NULL OR r.id > (a->>'after')::bigint)
        ORDER BY r.id LIMIT v_limit)
    SELECT coalesce(jsonb_agg(review_json(page.r) ORDER BY (page.r).id), '[]'), count(*)
        INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_strip_nulls(jsonb_build_object(
        'reviews', v_rows,
        'next', CASE WHEN v_n = v_limit THEN (v_rows->(v_n - 1)->>'id')::bigint END)));
END $$;

-- A reviewer approves the engine's decision or overrides it (the service validated the shape:
-- action, enums, a non-empty reason for an override). The result is stored, audited and published
-- as a new WarrantyDecided with review false, which moves the ticket on.
CREATE FUNCTION cmd_decide_review(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
