-- intake: the hotline's call log (issue 19.1; decision record 0014 says why it lives in intake).
-- Every inbound or outbound call is recorded against a customer phone, a ticket and/or a
-- complaint. A repair request opens its ticket in the same transaction (cmd_open_ticket, with
-- the same validation a front desk gets); a complaint is published as intake.CallLogged with
-- the complaint's cause and description, surveys opens it (exactly once, by the event runtime)
-- and answers surveys.CallComplaintOpened, which links the complaint to the call here.

CREATE SEQUENCE call_no;

CREATE TABLE calls (
    id              text PRIMARY KEY,
    direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel         text NOT NULL CHECK (channel IN ('phone', 'hotline_400', 'hotline_12315', 'wechat', 'online', 'other')),
    category        text NOT NULL CHECK (category IN ('consultation', 'repair_request', 'complaint',
                                                      'suggestion', 'praise', 'other')),
    outcome         text NOT NULL CHECK (outcome IN ('answered', 'transferred', 'callback_needed')),
    customer_name   text,
    customer_phone  text,
    ticket_id       text REFERENCES tickets(id),
    complaint_id    text,
    complaint       jsonb,            -- {cause, description}: the complaint asked of surveys
    center          text REFERENCES centers(code),
    region          text REFERENCES regions(code),
    summary         text NOT NULL,
    agent           text NOT NULL,    -- who took (or made) the call: the principal
    duration_s      int NOT NULL CHECK (duration_s BETWEEN 0 AND 86400),
    started_at      timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    request_id      text
);
CREATE INDEX calls_started ON calls (started_at DESC, id DESC);
CREATE INDEX calls_phone ON calls (customer_phone);
CREATE INDEX calls_ticket ON calls (ticket_id);

