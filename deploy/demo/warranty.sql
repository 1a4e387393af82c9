-- Demo reference data for warranty: the demo network's policy version, loaded from the files in
-- deploy/demo/warranty/ (a policy document in JSON plus the fault-code table as CSV) through the
-- same policy_publish() the admin route uses. Idempotent: an existing version is left as it is
-- (versions are immutable). Paths are relative to the repository root, where stack.sh runs psql.
\set ON_ERROR_STOP 1
\set policy `cat deploy/demo/warranty/demo-2026.1.json`
\set fault_codes `cat deploy/demo/warranty/fault-codes.csv`

-- CSV columns: code,category,listed,description (the description may hold commas, not quotes).
SELECT policy_publish(:'policy'::jsonb || jsonb_build_object('fault_codes', (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'code', m[1], 'category', m[2], 'listed', m[3]::boolean, 'description', m[4])
               ORDER BY n), '[]')
    FROM regexp_split_to_table(:'fault_codes', E'\r?\n') WITH ORDINALITY AS l(line, n),
         LATERAL regexp_match(line, '^([^,]+),([^,]+),([^,]+),(.*)$') AS m
    WHERE n > 1 AND btrim(line) <> '')), true) AS created;
