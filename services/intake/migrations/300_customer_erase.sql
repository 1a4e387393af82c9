-- intake: erasing a customer (issue 17; docs/customers.md "Erasing a customer"; decision 0023).
-- An erased customer keeps its id, its tickets and its devices (finance and warranty history
-- survive); its name, phones, address and consent are replaced, and the personal fields of its
-- tickets and calls are blanked by cmd_erase_customer() (sql/lifecycle.sql).

ALTER TABLE customers
    ADD COLUMN erased_at    timestamptz,
    ADD COLUMN erased_by    text,
    ADD COLUMN erase_reason text CHECK (length(erase_reason) <= 500);

-- Searches by name skip erased customers.
CREATE INDEX customers_live ON customers (id) WHERE erased_at IS NULL;

-- Finding devices by IMEI, serial or VIN prefix (GET /v1/devices).
CREATE INDEX devices_imei ON devices (imei text_pattern_ops);
CREATE INDEX devices_serial ON devices (serial text_pattern_ops);
CREATE INDEX devices_vin ON devices (upper(vin) text_pattern_ops);
