-- RFC 9773 §5: orders.replaces keeps the certID string as the client sent it; this column the id
-- of the certificate it names (see ../003_order_replaces_certificate.sql).
ALTER TABLE orders ADD COLUMN replaces_certificate_id TEXT;
UPDATE orders SET replaces_certificate_id = replaces, replaces = NULL WHERE replaces IS NOT NULL;
CREATE INDEX orders_by_replaced_certificate ON orders (replaces_certificate_id);
