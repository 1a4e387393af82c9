-- Demo rate tables of the settlement service: VAT, labour, parts prices, claim handling and
-- fees. Idempotent. Amounts are integer cents (CNY) before VAT. Every table is effective-dated:
-- a row applies from effective_from until a later row of the same key replaces it; '*' in
-- category or manufacturer matches any, and a specific row wins over '*'.

-- VAT 13 % (the migration creates this row too).
INSERT INTO vat_rates(effective_from, rate_bp) VALUES ('2000-01-01', 1300) ON CONFLICT DO NOTHING;

-- Labour (工时费): flat + per hour x minutes / 60. `list` prices are charged to customers,
-- `claim` prices to manufacturers (and used for goodwill work the company bears). The codes are
-- the ones the workshop enters at diagnosis / completion (intake's labour_code).
INSERT INTO labour_rates(labour_code, category, manufacturer, effective_from, description,
                         list_flat_cents, list_hour_cents, claim_flat_cents, claim_hour_cents) VALUES
    ('L-DIAG',    '*',          '*',       '2020-01-01', 'Diagnosis 检测',               3000,     0,  2000,     0),
    ('L-GENERAL', '*',          '*',       '2020-01-01', 'General repair 一般维修',         0, 12000,     0,  9000),
    ('L-SCREEN',  'phone_host', '*',       '2020-01-01', 'Screen replacement 更换屏幕',  8000,     0,  5000,     0),
    ('L-SCREEN',  'phone_host', 'HUAXIN',  '2020-01-01', 'Screen replacement 更换屏幕',  8000,     0,  5500,     0),
    ('L-SCREEN',  'phone_host', 'HUAXIN',  '2026-07-01', 'Screen replacement 更换屏幕',  9000,     0,  6000,     0),
    ('L-BOARD',   'phone_host', '*',       '2020-01-01', 'Main board repair 主板维修',  15000,     0, 10000,     0),
    ('L-BATTERY', '*',          '*',       '2020-01-01', 'Battery replacement 更换电池', 3000,     0,  2000,     0),
    ('L-PORT',    'phone_host', '*',       '2020-01-01', 'Charging port repair 尾插维修', 4000,     0,  2500,     0),
    ('L-CAMERA',  'phone_host', '*',       '2020-01-01', 'Camera replacement 更换摄像头', 5000,     0,  3500,     0),
    ('L-BRAKE',   'car',        'DRIVECO', '2020-01-01', 'Brake service 制动系统维修',  40000,     0, 32000,     0),
    ('L-ENGINE',  'car',        'DRIVECO', '2020-01-01', 'Engine repair 发动机维修',     5000, 30000,  5000, 24000),
    ('L-ELEC',    'car',        'DRIVECO', '2020-01-01', 'Electrical repair 电气维修',      0, 26000,     0, 20000)
ON CONFLICT DO NOTHING;

-- Parts price list, with the SKU codes, prices and return rules of the parts catalogue
-- (deploy/demo/parts.sql). Customers pay list; claims are cost plus handling.
INSERT INTO parts_prices(sku, effective_from, description, manufacturer, list_cents, cost_cents,
                         return_required, warranty_covered) VALUES
    ('HX10-SCREEN',    '2020-01-01', 'Huaxin HX-10 OLED screen assembly 屏幕总成',  'HUAXIN',   89900,  52000, true,  true),
    ('HX10-BATTERY',   '2020-01-01', 'Huaxin HX-10 battery 电池',                   'HUAXIN',   19900,   9500, true,  true),
    ('HX10-CHGPORT',   '2020-01-01', 'Huaxin HX-10 charging port flex 尾插排线',    'HUAXIN',    6900,   2500, false, true),
    ('HX10-BOARD',     '2020-01-01', 'Huaxin HX-10 main board 主板',                'HUAXIN',  189900, 118000, true,  true),
    ('HX10-CAMERA',    '2020-01-01', 'Huaxin HX-10 rear camera module 后置摄像头',  'HUAXIN',   59900,  31000, true,  true),
    ('DC-BRAKEPAD-F',  '2020-01-01', 'DriveCo front brake pad set 前刹车片',        'DRIVECO',  56000,  28000, false, false),
    ('DC-BRAKEDISC-F', '2020-01-01', 'DriveCo front brake disc 前刹车盘',           'DRIVECO',  88000,  46000, false, true),
    ('DC-ECU-V2',      '2020-01-01', 'DriveCo engine control unit V2 发动机控制单元', 'DRIVECO', 780000, 420000, true,  true),
    ('DC-BATT-12V',    '2020-01-01', 'DriveCo 12 V starter battery 蓄电池',         'DRIVECO',  89000,  45000, true,  true),
    ('DC-HEADLAMP-L',  '2020-01-01', 'DriveCo left LED headlamp 左前大灯',          'DRIVECO', 299000, 160000, true,  true)
ON CONFLICT DO NOTHING;

-- Handling on parts claimed from manufacturers, in basis points of cost.
INSERT INTO claim_handling(manufacturer, effective_from, handling_bp) VALUES
    ('*',       '2020-01-01',  800),
    ('HUAXIN',  '2020-01-01', 1000),
    ('DRIVECO', '2020-01-01', 1500)
ON CONFLICT DO NOTHING;

-- Service and travel fees (NULL: not charged to that kind of payer).
INSERT INTO fee_rates(fee_code, category, manufacturer, effective_from, description, applies,
                      list_cents, claim_cents) VALUES
    ('FEE-SVC',    '*',   '*', '2020-01-01', 'Service fee 服务费',                   'always',  2000,  1000),
    ('FEE-SVC',    'car', '*', '2020-01-01', 'Workshop service fee 工位服务费',      'always',  5000,  3000),
    ('FEE-TRAVEL', '*',   '*', '2020-01-01', 'Travel fee, customer visit 上门服务费', 'visit',  10000,  8000),
    -- charged only when a device goes back unrepaired after a paid diagnosis, with the
    -- customer's consent at intake (never to a manufacturer: no claim price)
    ('FEE-DIAG',   '*',   '*', '2020-01-01', 'Diagnosis fee 检测费',                 'diagnosis', 5000, NULL),
    ('FEE-DIAG',   'car', '*', '2020-01-01', 'Diagnosis fee, vehicle 车辆检测费',     'diagnosis', 20000, NULL)
ON CONFLICT DO NOTHING;
