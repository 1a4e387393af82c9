-- settlement: the consented estimate caps the customer's bill (issue 14, point 6).
--
-- intake.RepairCompleted carries consented_estimate_cents, the estimate the customer last
-- accepted. When the customer's list-priced lines plus VAT come to more, the customer pays the
-- estimate (VAT included: the VAT line is the estimate minus the customer's net) and the net
-- amount above it moves to the company: for each customer line (last first) the amount taken
-- off is a company line of the same kind with basis 'over_estimate'. The charge entry posts it
-- as goodwill (Dr 6601, credited to revenue like the line it came from), so the entry still
-- balances and revenue is the same as without the cap. The charge set's notes say so.

ALTER TABLE charge_lines DROP CONSTRAINT IF EXISTS charge_lines_basis_check;
ALTER TABLE charge_lines ADD CONSTRAINT charge_lines_basis_check
    CHECK (basis IN ('list', 'claim', 'cost', 'vat', 'seller', 'over_estimate'));

