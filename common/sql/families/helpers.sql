-- common: helper functions every service's SQL may call. One current definition per function,
-- applied with CREATE OR REPLACE into every service schema after the numbered migrations on
-- every start (the runner skips an unchanged file). Change a function here, in place; a new
-- migration holds only tables, data changes and drops.
--
-- Only functions that read no table belong here: every function in every schema must check
-- (tests/integration/sql_functions.sh). setting() and svc_now() read the schema's own
-- `settings` table, whose shape differs between services, so they stay in the services' files.

-- A timestamp as the API writes it: UTC, milliseconds, "Z".
CREATE OR REPLACE FUNCTION ts_text(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The same, under the shorter name parts and people use.
CREATE OR REPLACE FUNCTION ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT ts_text(t)
$$;

-- Who did it, for history and audit rows: the principal's subject.
CREATE OR REPLACE FUNCTION actor(p_principal jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p_principal->>'subject', 'unknown')
$$;

-- Who may see customers' phone numbers in full outside an audited read: the desks that call
-- them, and admin.
CREATE OR REPLACE FUNCTION sees_phones(p_principal jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p_principal->>'role', '') IN ('admin', 'center')
$$;
