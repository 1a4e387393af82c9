-- Demo reference data for intake: two regions with two centres each, and the brands of the
-- two demo manufacturers. Idempotent.
INSERT INTO regions(code, name) VALUES
    ('east', 'East China'),
    ('south', 'South China')
ON CONFLICT DO NOTHING;

INSERT INTO centers(code, name, region) VALUES
    ('SH01', 'Shanghai Xuhui Service Centre', 'east'),
    ('SH02', 'Hangzhou West Lake Service Centre', 'east'),
    ('GZ01', 'Guangzhou Tianhe Service Centre', 'south'),
    ('GZ02', 'Shenzhen Futian Service Centre', 'south')
ON CONFLICT DO NOTHING;

INSERT INTO brands(brand, manufacturer) VALUES
    ('Huaxin', 'HUAXIN'),
    ('DriveCo', 'DRIVECO'),
    ('Lumio', 'LUMIO')
ON CONFLICT DO NOTHING;
