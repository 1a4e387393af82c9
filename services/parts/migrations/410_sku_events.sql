-- The catalogue is announced on the parts stream (parts.SkuChanged, by the trigger
-- skus_announce in sql/catalogue.sql) so that intake keeps a copy of it. The SKUs that exist
-- when this migration runs are announced once here. A fresh database has none yet (and no
-- emit() before the family files are applied), hence the guard.
DO $$
BEGIN
    IF to_regprocedure('emit(text,text,jsonb,text)') IS NOT NULL THEN
        PERFORM emit('parts', 'parts.SkuChanged', jsonb_build_object(
                    'sku', s.sku, 'brand', s.brand, 'name', s.name, 'category', s.category,
                    'active', s.active))
            FROM skus s ORDER BY s.sku;
    END IF;
END $$;
