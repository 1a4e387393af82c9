-- Scope checks fail closed: may_see() is true or false, never NULL; a centre principal without a
-- site, or a region principal without a region, sees nothing.
CREATE OR REPLACE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_region IS NOT NULL AND p_principal->>'region' <> ''
                           AND p_principal->>'region' = p_region
        WHEN 'center' THEN p_center IS NOT NULL AND p_principal->>'site' <> ''
                           AND p_principal->>'site' = p_center
        ELSE false END, false)
$$;
