-- common: audit functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION audit_write(p_principal jsonb, p_request_id text, p_action text,
                                       p_entity text, p_entity_id text, p_detail jsonb DEFAULT '{}')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (coalesce(p_principal, '{}'), p_request_id, p_action, p_entity, p_entity_id,
            coalesce(p_detail, '{}'));
END $$;

-- The phone number as people without a need to call see it: all but the last four digits masked.
CREATE OR REPLACE FUNCTION mask_phone(p text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p IS NULL THEN NULL
                WHEN length(p) <= 4 THEN p
                ELSE repeat('*', length(p) - 4) || right(p, 4) END
$$;

-- as.ListAudit: this schema's audit rows, newest first, for GET /v1/audit (the gateway asks
-- every service and merges). Admins see every row; a region manager the acts of its region's
-- people (rows whose principal carries its region); anyone else nothing (the gateway lets only
-- those two roles in).
CREATE OR REPLACE FUNCTION cmd_list_audit(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('entries',
        coalesce(jsonb_agg(e ORDER BY (e->>'id')::bigint DESC), '[]')))
    FROM (SELECT jsonb_strip_nulls(jsonb_build_object(
              'id', x.id,
              'at', to_char(x.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'service', current_schema(), 'subject', x.principal->>'subject',
              'display_name', x.principal->>'display_name', 'role', x.principal->>'role',
              'region', x.principal->>'region', 'action', x.action, 'entity', x.entity,
              'entity_id', x.entity_id, 'request_id', x.request_id)) e
          FROM audit x
          WHERE (a->>'subject' IS NULL OR x.principal->>'subject' = a->>'subject')
            AND (a->>'since' IS NULL OR x.at >= (a->>'since')::timestamptz)
            AND (a->>'until' IS NULL OR x.at < (a->>'until')::timestamptz)
            AND (p->>'role' = 'admin'
                 OR (p->>'role' = 'region' AND x.principal->>'region' = p->>'region'))
          ORDER BY x.id DESC
          LIMIT least(greatest(coalesce((a->>'limit')::int, 200), 1), 1000)) s
$$;
