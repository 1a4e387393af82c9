-- Demo reference data of the people service: the network the other services' demo data names
-- (two regions, four centres, the central warehouse, two brands). Idempotent. Staff accounts
-- are made by deploy/local/stack.sh through the API (passwords are hashed by the service).
INSERT INTO regions(code, name) VALUES
    ('east', 'East China'),
    ('south', 'South China')
ON CONFLICT DO NOTHING;

INSERT INTO brands(name, manufacturer, models) VALUES
    ('Huaxin', 'HUAXIN', '{HX-8,HX-10,HX-C1}'),
    ('DriveCo', 'DRIVECO', '{DC-S1,DC-S2}')
ON CONFLICT DO NOTHING;

INSERT INTO centers(code, name, region, address, phone, hours, categories, brands) VALUES
    ('SH01', 'Shanghai Xuhui Service Centre', 'east', '1 Caoxi Road, Xuhui, Shanghai',
     '021-55550101', 'Mon-Sun 09:00-18:00', '{phone_host,phone_battery,general}', '{Huaxin}'),
    ('SH02', 'Hangzhou West Lake Service Centre', 'east', '8 Wensan Road, Hangzhou',
     '0571-55550102', 'Mon-Sun 09:00-18:00', '{phone_host,phone_battery,general}', '{Huaxin}'),
    ('GZ01', 'Guangzhou Tianhe Service Centre', 'south', '3 Tianhe Road, Guangzhou',
     '020-55550201', 'Mon-Sat 09:00-18:00', '{phone_host,phone_battery,general,car}',
     '{Huaxin,DriveCo}'),
    ('GZ02', 'Shenzhen Futian Service Centre', 'south', '5 Shennan Road, Shenzhen',
     '0755-55550202', 'Mon-Sat 09:00-18:00', '{phone_host,phone_battery,general,car}',
     '{Huaxin,DriveCo}')
ON CONFLICT DO NOTHING;

INSERT INTO warehouses(code, name) VALUES
    ('WH01', 'Central parts warehouse')
ON CONFLICT DO NOTHING;
