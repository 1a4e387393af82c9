-- surveys: a car's maintenance reminder by date OR mileage (issue 19.7; docs/surveys.md
-- "Maintenance by date or mileage"). The reminder keeps what decided its due date: `basis`
-- date (maintenance_days_car after the close) or mileage (the day the odometer is projected past
-- its reading at intake + maintenance_km_car, at the car's measured km a day or the default),
-- the reading, the rate used and the odometer it is due at.
ALTER TABLE proactive_calls ADD COLUMN basis text CHECK (basis IN ('date', 'mileage'));
ALTER TABLE proactive_calls ADD COLUMN odometer_km bigint;
ALTER TABLE proactive_calls ADD COLUMN km_per_day numeric;
ALTER TABLE proactive_calls ADD COLUMN km_per_day_measured boolean;
ALTER TABLE proactive_calls ADD COLUMN due_odometer_km bigint;
UPDATE proactive_calls SET basis = 'date' WHERE kind = 'maintenance';

INSERT INTO settings(name, value) VALUES ('maintenance_km_car', 5000), ('maintenance_km_per_day_car', 40)
ON CONFLICT (name) DO NOTHING;
