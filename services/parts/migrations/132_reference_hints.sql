-- Reference data is checked, and the refusal points to the allowed values: an unknown site lists
-- the sites the caller may use, an unknown SKU points to the catalogue route.
CREATE OR REPLACE FUNCTION require_site(p jsonb, p_site text, p_write boolean) RETURNS sites
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s sites;
BEGIN
    SELECT * INTO s FROM sites WHERE code = p_site;
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_site',
                     format('site %s does not exist (your sites: %s)', p_site,
                            coalesce((SELECT string_agg(x.code, ', ' ORDER BY x.code) FROM sites x
                                       WHERE CASE WHEN p_write THEN may_write(p, x.code)
                                                  ELSE may_read(p, x.code) END), 'none')));
    END IF;
    IF p_write AND NOT may_write(p, p_site) THEN
        PERFORM fail(403, 'forbidden', format('you may not change stock at site %s', p_site));
    ELSIF NOT p_write AND NOT may_read(p, p_site) THEN
        PERFORM fail(403, 'forbidden', format('you may not see site %s', p_site));
    END IF;
    RETURN s;
END $$;

CREATE OR REPLACE FUNCTION require_sku(p_sku text) RETURNS skus
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c skus;
BEGIN
    SELECT * INTO c FROM skus WHERE sku = p_sku;
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_sku',
                     format('SKU %s is not in the catalogue (the catalogue: GET /v1/parts/skus)', p_sku));
    END IF;
    RETURN c;
END $$;
