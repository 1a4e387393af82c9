-- intake: its copy of the people service's staff accounts (issue 17, point 4; docs/onsite.md).
-- A technician is named by their staff login; intake checks it against this copy, kept from the
-- people stream's UserChanged events like the network's regions and centres (network_copy): an
-- unknown login, a disabled account, an account that is not a centre's staff or belongs to
-- another centre is refused with 422 unknown_technician. Only what the check needs is copied (no
-- display names, no password data). Accounts created before this migration appear here with
-- their next change in people (any update, a password reset, disable/enable).

CREATE TABLE staff_accounts (
    login      text PRIMARY KEY,
    role       text NOT NULL,
    site       text,
    region     text,
    active     boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
