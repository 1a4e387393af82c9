-- parts: a backordered line given up (the ticket was cancelled or returned unrepaired, or the
-- repair did not use it) is reported in parts.PartsReleased too, not only a reserved one, so
-- intake's copy of the line ends `released` instead of staying `backordered` forever. Nothing
-- else changes: a backorder still holds no stock and its transfer is cancelled as before.
CREATE OR REPLACE FUNCTION close_open_lines(t tickets, p_reason text, INOUT touched text[],
                                           OUT released jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    r reservations;
    v_sku text;
    v_wh text := setting('warehouse');
BEGIN
    released := '[]';
    FOR r IN SELECT * FROM reservations WHERE ticket_id = t.ticket_id
             AND state IN ('reserved', 'backordered') ORDER BY line_no FOR UPDATE LOOP
        IF r.state = 'reserved' THEN
            PERFORM lock_stock(r.site, r.sku);
            PERFORM mv(r.site, r.sku, 'release', 0, -r.qty, 0,
                       jsonb_build_object('ticket_id', r.ticket_id, 'line_no', r.line_no,
                                          'reason', p_reason));
            UPDATE reservations SET state = 'released', closed_at = now()
                WHERE ticket_id = r.ticket_id AND line_no = r.line_no;
            released := released || line_json(r);
            touched := touched || (r.site || '|' || r.sku);
        ELSE
            UPDATE reservations SET state = 'cancelled', closed_at = now()
                WHERE ticket_id = r.ticket_id AND line_no = r.line_no;
            released := released || line_json(r);
            IF r.transfer_id IS NOT NULL THEN
                FOREACH v_sku IN ARRAY cancel_transfer(r.transfer_id, 'parts', p_reason) LOOP
                    touched := touched || (coalesce(v_wh, '') || '|' || v_sku);
                END LOOP;
            END IF;
        END IF;
    END LOOP;
END $$;
