-- schemas: intake warranty
-- common: the order of customer tiers in a queue — VIP 0, key 1, the others 2 (intake's ticket
-- queue, on-site dispatch, warranty's review queue).
CREATE OR REPLACE FUNCTION tier_rank(p_tier text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_tier WHEN 'vip' THEN 0 WHEN 'key' THEN 1 ELSE 2 END
$$;
