-- Scope checks fail closed. A centre principal without a site, or a region principal without a
-- region, used to make may_see() return NULL (NULL = 'SH01' is NULL), and `NOT may_see(...)` is
-- NULL too, so `IF NOT FOUND OR NOT may_see(...) THEN fail` never failed: such a principal read
-- every centre's tickets by id. Now the answer is always true or false, and false unless the
-- principal names a non-empty site (region) equal to the row's.
CREATE OR REPLACE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'finance' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_principal->>'region' <> '' AND p_principal->>'region' = p_region
        WHEN 'center' THEN p_principal->>'site' <> '' AND p_principal->>'site' = p_center
        ELSE false END, false)
$$;
