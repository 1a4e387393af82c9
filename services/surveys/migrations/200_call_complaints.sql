-- surveys: complaints taken on the hotline (issue 19.1). intake records the call and, for a
-- complaint, publishes intake.CallLogged with the cause and description; this handler opens the
-- complaint as the desk would (severity from the channel, owned by the agent who took the call:
-- 首问负责制, linked to the ticket when the call named one) and publishes
-- surveys.CallComplaintOpened so intake links it to the call. `call_complaints` makes a repeated
-- event change nothing (on top of the runtime's once-per-sequence guarantee).

CREATE TABLE call_complaints (
    call_id      text PRIMARY KEY,
    complaint_id text NOT NULL REFERENCES complaints(id)
);

CREATE FUNCTION on_call_logged(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
    v_center text := nullif(e->>'center', '');
    v_region text;
BEGIN
    IF e->'complaint' IS NULL OR EXISTS (SELECT 1 FROM call_complaints WHERE call_id = e->>'call_id') THEN
        RETURN;
    END IF;
    IF v_center IS NOT NULL THEN
        SELECT region INTO v_region FROM centers WHERE code = v_center;
        IF NOT FOUND THEN
            v_center := NULL; -- a centre surveys does not know yet: head office takes it
        END IF;
    END IF;
    c := complaint_create('call:' || (e->>'call_id'),
                          jsonb_build_object('role', 'service', 'subject', coalesce(e->>'agent', 'hotline')),
                          CASE e->>'channel' WHEN 'hotline_12315' THEN 'hotline_12315'
                                             WHEN 'wechat' THEN 'online' WHEN 'online' THEN 'online'
                                             ELSE 'phone' END,
                          nullif(e->>'ticket_id', ''), v_center, v_region,
                          coalesce(nullif(e->'complaint'->>'cause', ''), 'other'),
                          coalesce(nullif(e->'complaint'->>'description', ''), e->>'summary', 'hotline call'),
                          nullif(e->'customer'->>'name', ''), nullif(e->'customer'->>'phone', ''),
                          'manual', NULL);
    INSERT INTO call_complaints(call_id, complaint_id) VALUES (e->>'call_id', c.id);
    PERFORM emit('surveys', 'surveys.CallComplaintOpened', jsonb_strip_nulls(jsonb_build_object(
        'call_id', e->>'call_id', 'complaint_id', c.id, 'center', c.center, 'region', c.region)));
END $$;
