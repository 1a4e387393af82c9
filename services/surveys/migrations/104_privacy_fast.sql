-- surveys: phone_for() and reply_for() (102_privacy.sql) as PL/pgSQL. As SQL they are not
-- inlined (the object argument, often a callback_json(...) call, is used several times), so
-- PostgreSQL 15 planned their bodies again on every call: once per row of every list. Same
-- results.

CREATE OR REPLACE FUNCTION phone_for(p_principal jsonb, j jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF sees_phones(p_principal) OR j->>'customer_phone' IS NULL THEN
        RETURN j;
    END IF;
    RETURN jsonb_set(j, '{customer_phone}', to_jsonb(mask_phone(j->>'customer_phone')));
END $$;

CREATE OR REPLACE FUNCTION reply_for(p_principal jsonb, r jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF jsonb_typeof(r->'body') = 'object' THEN
        RETURN jsonb_set(r, '{body}', phone_for(p_principal, r->'body'));
    END IF;
    RETURN r;
END $$;
