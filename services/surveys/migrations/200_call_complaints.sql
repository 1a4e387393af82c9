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

