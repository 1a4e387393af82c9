-- intake keeps each centre's state (open / suspended / closed) from the people service's
-- CenterChanged events and refuses new tickets at a centre that is not open: 409
-- `center_suspended` or `center_closed`, naming the centre and its state. Tickets already open
-- there carry on (a suspended centre finishes its work). A trigger, like the reference checks
-- of 131, so every way a ticket is inserted is covered and cmd_open_ticket() stays unchanged.

ALTER TABLE centers ADD COLUMN state text NOT NULL DEFAULT 'open'
    CHECK (state IN ('open', 'suspended', 'closed'));

CREATE OR REPLACE FUNCTION on_center_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regions(code, name) VALUES (e->'center'->>'region', e->'center'->>'region')
    ON CONFLICT DO NOTHING;
    INSERT INTO centers(code, name, region, state)
    VALUES (e->'center'->>'code', e->'center'->>'name', e->'center'->>'region',
            coalesce(e->'center'->>'state', 'open'))
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region,
                                     state = EXCLUDED.state;
$$;

CREATE FUNCTION tickets_check_center_open() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
BEGIN
    SELECT state INTO v_state FROM centers WHERE code = NEW.center;
    IF v_state IS DISTINCT FROM 'open' AND v_state IS NOT NULL THEN
        PERFORM fail(409, 'center_' || v_state,
                     format('centre %s is %s: it takes no new tickets', NEW.center, v_state));
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER tickets_check_center_open BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_check_center_open();
