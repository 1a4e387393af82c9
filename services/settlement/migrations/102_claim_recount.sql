-- settlement: claim_recount() recounts again. 101 made it a no-op because the claim_lines
-- triggers keep claims.claimed_cents; its only caller left is cmd_submit_claim (once per claim,
-- after moving lines that wait for their defective part to the next claim), where an O(lines)
-- recount costs nothing that matters and guards the total against any path that bypassed the
-- triggers. The hot path (charge_repair, once per repair) no longer calls it.
CREATE OR REPLACE FUNCTION claim_recount(p_id text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE claims SET claimed_cents = (SELECT coalesce(sum(claimed_cents), 0) FROM claim_lines
                                       WHERE claim_id = p_id)
    WHERE id = p_id
      AND claimed_cents <> (SELECT coalesce(sum(claimed_cents), 0) FROM claim_lines
                            WHERE claim_id = p_id);
END $$;
