-- 139: one rule for what a caller sees of a loaner's holder. Two earlier migrations each
-- redefined the loaner views (111: the desk sees its own holder's phone in full; 131: the
-- warehouse sees no customer names); this is the rule both meant, in one place:
--   admin, and the desk of the unit's own centre: name and the phone in full;
--   another centre's desk and services: name and the masked phone (loaner_json);
--   everyone else (warehouse, region, finance, reviewer): neither name nor phone.

CREATE OR REPLACE FUNCTION loaner_json_for(p_principal jsonb, u loaners) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    j jsonb := loaner_json(u);
    v_role text := p_principal->>'role';
BEGIN
    IF v_role = 'admin' OR (v_role = 'center' AND p_principal->>'site' = u.site) THEN
        IF j ? 'phone' THEN
            j := jsonb_set(j, '{phone}', to_jsonb((SELECT phone FROM loans WHERE serial = u.serial
                                                    AND returned_at IS NULL)));
        END IF;
        RETURN j;
    END IF;
    IF v_role IN ('center', 'service') THEN
        RETURN j;
    END IF;
    RETURN j - 'customer' - 'phone';
END $$;

CREATE OR REPLACE FUNCTION loaner_view(u loaners, p jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT loaner_json_for(p, u)
$$;
