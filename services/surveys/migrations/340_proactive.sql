-- surveys: proactive service (issue 19.7; docs/surveys.md "Proactive calls").
-- A repaired ticket's close schedules, besides its satisfaction callback, a quality-tracking
-- call `quality_tracking_days` later and — cars and appliances — a maintenance reminder
-- `maintenance_days_<category>` later. They are callbacks of another kind, so they land in the
-- call-back desk's list on their due date like every callback; a maintenance reminder, when
-- due, is also published (surveys.MaintenanceDue) for notify to tell the customer. The due
-- timer (deadlines.c) finds them in the database, so a restart loses none.
ALTER TABLE callbacks ADD COLUMN kind text NOT NULL DEFAULT 'satisfaction'
    CHECK (kind IN ('satisfaction', 'quality_tracking', 'maintenance'));
ALTER TABLE callbacks ADD COLUMN notified_at timestamptz;  -- maintenance: published when due
ALTER TABLE callbacks DROP CONSTRAINT callbacks_ticket_id_key;
ALTER TABLE callbacks ADD CONSTRAINT callbacks_ticket_kind UNIQUE (ticket_id, kind);
CREATE INDEX callbacks_reminders_due ON callbacks (due_at)
    WHERE kind = 'maintenance' AND notified_at IS NULL;

INSERT INTO settings(name, value) VALUES
    ('quality_tracking_days', 7), ('maintenance_days_car', 180), ('maintenance_days_general', 365)
ON CONFLICT (name) DO NOTHING;
