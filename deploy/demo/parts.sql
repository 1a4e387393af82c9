-- Demo reference data of the parts service: the sites, a catalogue of phone and car parts,
-- opening stock (as receipt movements: the ledger is the only way stock exists), safety levels
-- and two loaner phones per centre. Idempotent: run it as often as you like.

INSERT INTO sites(code, name, kind, region) VALUES
    ('WH01', 'Central parts warehouse', 'warehouse', NULL),
    ('SH01', 'Shanghai Xuhui', 'center', 'east'),
    ('SH02', 'Hangzhou West Lake', 'center', 'east'),
    ('GZ01', 'Guangzhou Tianhe', 'center', 'south'),
    ('GZ02', 'Shenzhen Futian', 'center', 'south')
ON CONFLICT (code) DO NOTHING;

INSERT INTO skus(sku, name, brand, manufacturer, category, compatible_models, unit_cost_cents,
                 list_price_cents, defective_return_required) VALUES
    ('HX10-SCREEN', 'Huaxin HX-10 OLED screen assembly', 'Huaxin', 'HUAXIN', 'part',
     '{HX-10,HX-10 Pro}', 52000, 89900, true),
    ('HX10-BATTERY', 'Huaxin HX-10 battery 4800 mAh', 'Huaxin', 'HUAXIN', 'part',
     '{HX-10,HX-10 Pro}', 9500, 19900, true),
    ('HX10-CHGPORT', 'Huaxin HX-10 USB-C charging port flex', 'Huaxin', 'HUAXIN', 'part',
     '{HX-10,HX-10 Pro}', 2500, 6900, false),
    ('HX10-BOARD', 'Huaxin HX-10 main board 256 GB', 'Huaxin', 'HUAXIN', 'part',
     '{HX-10}', 118000, 189900, true),
    ('HX10-CAMERA', 'Huaxin HX-10 rear camera module', 'Huaxin', 'HUAXIN', 'part',
     '{HX-10,HX-10 Pro}', 31000, 59900, true),
    ('DC-BRAKEPAD-F', 'DriveCo front brake pad set', 'DriveCo', 'DRIVECO', 'part',
     '{S5,S7,X3}', 28000, 56000, false),
    ('DC-BRAKEDISC-F', 'DriveCo front brake disc', 'DriveCo', 'DRIVECO', 'part',
     '{S5,S7}', 46000, 88000, false),
    ('DC-ECU-V2', 'DriveCo engine control unit V2', 'DriveCo', 'DRIVECO', 'part',
     '{S7,X3}', 420000, 780000, true),
    ('DC-BATT-12V', 'DriveCo 12 V starter battery 70 Ah', 'DriveCo', 'DRIVECO', 'part',
     '{S5,S7,X3}', 45000, 89000, true),
    ('DC-HEADLAMP-L', 'DriveCo left LED headlamp assembly', 'DriveCo', 'DRIVECO', 'part',
     '{S7}', 160000, 299000, true),
    ('HX-LOANER', 'Huaxin loaner phone (备机)', 'Huaxin', 'HUAXIN', 'loaner',
     '{}', 150000, 0, false)
ON CONFLICT (sku) DO NOTHING;

-- Safety stock: the warehouse keeps deeper buffers and waits longer for its supplier.
INSERT INTO stock_policy(site, sku, safety_level, reorder_point, lead_time_days)
SELECT s.code, c.sku,
       CASE WHEN s.kind = 'warehouse' THEN 10 ELSE 2 END,
       CASE WHEN s.kind = 'warehouse' THEN 20 ELSE 3 END,
       CASE WHEN s.kind = 'warehouse' THEN 14 ELSE 3 END
FROM sites s CROSS JOIN skus c
WHERE s.code IN ('WH01', 'SH01', 'SH02', 'GZ01', 'GZ02') AND c.category = 'part'
  AND c.sku IN ('HX10-SCREEN', 'HX10-BATTERY', 'HX10-CHGPORT', 'HX10-BOARD', 'HX10-CAMERA',
                'DC-BRAKEPAD-F', 'DC-BRAKEDISC-F', 'DC-ECU-V2', 'DC-BATT-12V', 'DC-HEADLAMP-L')
ON CONFLICT (site, sku) DO NOTHING;

-- Opening stock, posted once per site x SKU as a receipt movement.
SELECT mv(o.site, o.sku, 'receipt', o.qty, 0, 0,
          jsonb_build_object('note', 'demo opening stock', 'actor', 'demo'))
FROM (VALUES
    ('WH01', 'HX10-SCREEN', 40), ('WH01', 'HX10-BATTERY', 60), ('WH01', 'HX10-CHGPORT', 80),
    ('WH01', 'HX10-BOARD', 15), ('WH01', 'HX10-CAMERA', 30), ('WH01', 'DC-BRAKEPAD-F', 50),
    ('WH01', 'DC-BRAKEDISC-F', 30), ('WH01', 'DC-ECU-V2', 12), ('WH01', 'DC-BATT-12V', 25),
    ('WH01', 'DC-HEADLAMP-L', 12),
    ('SH01', 'HX10-SCREEN', 5), ('SH01', 'HX10-BATTERY', 8), ('SH01', 'HX10-CHGPORT', 10),
    ('SH01', 'HX10-BOARD', 3), ('SH01', 'HX10-CAMERA', 4), ('SH01', 'DC-BRAKEPAD-F', 6),
    ('SH01', 'DC-BATT-12V', 3),
    ('SH02', 'HX10-SCREEN', 4), ('SH02', 'HX10-BATTERY', 6), ('SH02', 'HX10-CHGPORT', 8),
    ('SH02', 'DC-BRAKEPAD-F', 4),
    ('GZ01', 'HX10-SCREEN', 5), ('GZ01', 'HX10-BATTERY', 8), ('GZ01', 'HX10-CHGPORT', 10),
    ('GZ01', 'HX10-BOARD', 3), ('GZ01', 'DC-BRAKEPAD-F', 6), ('GZ01', 'DC-BRAKEDISC-F', 4),
    ('GZ01', 'DC-ECU-V2', 1), ('GZ01', 'DC-BATT-12V', 3),
    ('GZ02', 'HX10-SCREEN', 3), ('GZ02', 'HX10-BATTERY', 5), ('GZ02', 'HX10-CHGPORT', 6),
    ('GZ02', 'DC-BRAKEPAD-F', 4)
) AS o(site, sku, qty)
WHERE NOT EXISTS (SELECT 1 FROM movements m
                  WHERE m.site = o.site AND m.sku = o.sku AND m.note = 'demo opening stock');

-- Two loaner phones per centre.
INSERT INTO loaners(serial, site, sku, model) VALUES
    ('LN-SH01-01', 'SH01', 'HX-LOANER', 'Huaxin HX-8'), ('LN-SH01-02', 'SH01', 'HX-LOANER', 'Huaxin HX-8'),
    ('LN-SH02-01', 'SH02', 'HX-LOANER', 'Huaxin HX-8'), ('LN-SH02-02', 'SH02', 'HX-LOANER', 'Huaxin HX-8'),
    ('LN-GZ01-01', 'GZ01', 'HX-LOANER', 'Huaxin HX-8'), ('LN-GZ01-02', 'GZ01', 'HX-LOANER', 'Huaxin HX-8'),
    ('LN-GZ02-01', 'GZ02', 'HX-LOANER', 'Huaxin HX-8'), ('LN-GZ02-02', 'GZ02', 'HX-LOANER', 'Huaxin HX-8')
ON CONFLICT (serial) DO NOTHING;

-- Judge every safety level against the opening stock (publishes StockBelowSafety once for each
-- site x SKU that starts below its level; a second run finds them already flagged).
SELECT safety_watch(lock_stock(p.site, p.sku)) FROM stock_policy p WHERE NOT p.below;
