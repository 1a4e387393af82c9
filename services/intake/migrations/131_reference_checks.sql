-- Reference data is checked: a ticket whose device names a brand intake does not know is a 422
-- that lists the known brands (before, it was opened with no manufacturer, and its warranty
-- claim had nobody to go to). Brands are matched without regard to case, as when the
-- manufacturer is looked up. A trigger, so that every way a ticket is inserted is covered.
CREATE FUNCTION tickets_check_references() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_brand text := nullif(NEW.device->>'brand', '');
BEGIN
    IF v_brand IS NOT NULL AND NOT EXISTS (SELECT 1 FROM brands WHERE lower(brand) = lower(v_brand)) THEN
        PERFORM fail(422, 'unknown_brand',
                     format('device.brand: %s is not a known brand (known: %s)', v_brand,
                            coalesce((SELECT string_agg(brand, ', ' ORDER BY brand) FROM brands),
                                     'none')));
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER tickets_check_references BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_check_references();
