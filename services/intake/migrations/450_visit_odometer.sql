-- intake: a car's odometer read at an on-site visit's check-out (issue 19.7): with the readings
-- taken at ticket intake it measures the car's mileage per day for its maintenance reminder
-- (km_per_day_of() in sql/lifecycle.sql; docs/surveys.md "Maintenance by date or mileage").
ALTER TABLE service_orders ADD COLUMN odometer_km bigint CHECK (odometer_km BETWEEN 0 AND 10000000);
CREATE INDEX service_orders_car_serial ON service_orders (upper(serial))
    WHERE category = 'car' AND odometer_km IS NOT NULL;
