-- The ticket → customer link of the tier copy takes surveys' name, so that both services read it
-- with the one ticket_tier() of common/sql/families/customer_tiers.sql.
ALTER TABLE ticket_customers RENAME TO ticket_tiers;
