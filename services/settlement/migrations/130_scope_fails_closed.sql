-- Scope checks fail closed: may_see() is true or false, never NULL. A centre principal without a
-- site, or a region principal without a region, sees nothing (before, `NOT may_see(...)` was NULL
-- for them and the check that should refuse them let them through).
CREATE OR REPLACE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'finance' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_principal->>'region' <> '' AND p_principal->>'region' = p_region
        WHEN 'center' THEN p_principal->>'site' <> '' AND p_principal->>'site' = p_center
        ELSE false END, false)
$$;
