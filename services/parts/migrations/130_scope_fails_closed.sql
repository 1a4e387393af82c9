-- Scope checks fail closed: may_read() and may_write() are true or false, never NULL. A centre
-- principal without a site (or a region principal without a region) acts on and reads nothing;
-- before, `NOT may_read(...)` was NULL for a centre without a site and the check let it read
-- every site's transfers and loaners by id.
CREATE OR REPLACE FUNCTION may_read(p jsonb, p_site text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p->>'role' = 'region' THEN
        RETURN coalesce(p->>'region' <> '', false)
           AND EXISTS (SELECT 1 FROM sites s WHERE s.code = p_site AND s.region = p->>'region');
    END IF;
    RETURN coalesce(CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'warehouse' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' <> '' AND p->>'site' = p_site
        ELSE false END, false);
END $$;

CREATE OR REPLACE FUNCTION may_write(p jsonb, p_site text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'warehouse' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' <> '' AND p->>'site' = p_site
        ELSE false END, false)
$$;
