-- Demo reference data for the surveys service: the regions and centres it scopes callbacks and
-- complaints by (its own copy; it never reads intake's schema). Idempotent.
INSERT INTO regions(code, name) VALUES
    ('east', 'East China'),
    ('south', 'South China')
ON CONFLICT DO NOTHING;

INSERT INTO centers(code, name, region) VALUES
    ('SH01', 'Shanghai Xuhui', 'east'),
    ('SH02', 'Hangzhou West Lake', 'east'),
    ('GZ01', 'Guangzhou Tianhe', 'south'),
    ('GZ02', 'Shenzhen Futian', 'south')
ON CONFLICT DO NOTHING;
