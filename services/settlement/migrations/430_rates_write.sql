-- settlement: writing the price list (issue 18, decision 0032). Admin and finance add a new
-- version of a labour rate, a part's price or a fee from a date (today or later); versions in
-- force are never changed. Functions: sql/rates.sql.

-- The people service's brands (people.BrandChanged): the manufacturers a price-list row may name
-- besides '*' and those the price list already holds.
CREATE TABLE brands (
    brand        text PRIMARY KEY,
    manufacturer text NOT NULL
);
CREATE INDEX brands_manufacturer ON brands (manufacturer);
