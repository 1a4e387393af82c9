-- surveys: proactive service (issue 19.7; docs/surveys.md "Proactive calls").
-- A repaired ticket's close schedules, besides its satisfaction callback, a quality-tracking
-- call `quality_tracking_days` later and — cars and appliances — a maintenance reminder
-- `maintenance_days_<category>` later. They are kept apart from the satisfaction callbacks
-- (one per ticket, a survey) and land in the call-back desk's list (GET /v1/surveys/due,
-- `proactive`) from their due date; a maintenance reminder, when due, is also published once
-- (surveys.MaintenanceDue) for notify to tell the customer. The due timer (deadlines.c) finds
-- them in the database, so a restart loses none.
CREATE SEQUENCE proactive_no;
CREATE TABLE proactive_calls (
    id             text PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('quality_tracking', 'maintenance')),
    ticket_id      text NOT NULL,
    center         text NOT NULL,
    region         text,
    customer_name  text,
    customer_phone text,
    category       text,
    brand          text,
    closed_at      timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    notified_at    timestamptz,            -- maintenance: published when due
    done_at        timestamptz,            -- the desk made the call (POST .../done)
    done_by        text,
    note           text,
    created_at     timestamptz NOT NULL,
    UNIQUE (ticket_id, kind)
);
CREATE INDEX proactive_calls_due ON proactive_calls (due_at);
CREATE INDEX proactive_calls_reminders ON proactive_calls (due_at)
    WHERE kind = 'maintenance' AND notified_at IS NULL;

INSERT INTO settings(name, value) VALUES
    ('quality_tracking_days', 7), ('maintenance_days_car', 180), ('maintenance_days_general', 365)
ON CONFLICT (name) DO NOTHING;
