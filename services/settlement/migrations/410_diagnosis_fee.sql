-- The diagnosis fee (检测费): a fee of the price list that applies only when a device goes back
-- unrepaired after a paid repair was diagnosed and the customer consented to the fee at intake
-- (intake.TicketClosed {outcome: declined, diagnosis_fee: true}). Never part of a repair's
-- charges. The rate is effective-dated per category and manufacturer like every fee.
ALTER TABLE fee_rates DROP CONSTRAINT IF EXISTS fee_rates_applies_check;
ALTER TABLE fee_rates ADD CONSTRAINT fee_rates_applies_check
    CHECK (applies IN ('always', 'visit', 'diagnosis'));
