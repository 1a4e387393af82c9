-- The warehouse's views show no customer names. A loaner unit that is out names the customer who
-- holds it (and a masked phone) for the centres that lend and take back units; the warehouse sees
-- the unit, its site, the ticket and the dates, not who the customer is.
CREATE FUNCTION loaner_view(u loaners, p jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p->>'role' IN ('admin', 'center', 'service') THEN
        RETURN loaner_json(u);
    END IF;
    RETURN loaner_json(u) - 'customer' - 'phone';
END $$;

CREATE OR REPLACE FUNCTION cmd_list_loaners(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_rows jsonb;
BEGIN
    IF v_site IS NOT NULL THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    SELECT coalesce(jsonb_agg(loaner_view(u, p_principal) ORDER BY u.site, u.serial), '[]')
      INTO v_rows
    FROM loaners u
    WHERE may_read(p_principal, u.site)
      AND (v_site IS NULL OR u.site = v_site)
      AND (a->>'state' IS NULL OR u.state = a->>'state');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('loaners', v_rows));
END $$;
