-- notify: the customer's maintenance reminder (issue 19.7): surveys.MaintenanceDue, published
-- when a car's or an appliance's maintenance reminder falls due, becomes a notification of kind
-- `maintenance_reminder` (queue_customer, sql/functions.sql).
INSERT INTO templates(kind, version, body) VALUES
    ('maintenance_reminder', 1, '【售后服务】您在{{center}}服务网点维修的{{brand}}产品（工单{{ticket_id}}）已到保养时间，欢迎预约保养检查，我们也将致电提醒。')
ON CONFLICT (kind, version) DO NOTHING;
