-- RFC 9773 §5: an order echoes `replaces` exactly as the client sent it, while the checks work on the
-- certificate it names. orders.replaces keeps the certID string; this column the certificate's id.
ALTER TABLE orders ADD COLUMN replaces_certificate_id TEXT;
UPDATE orders SET replaces_certificate_id = replaces, replaces = NULL WHERE replaces IS NOT NULL;
CREATE INDEX orders_by_replaced_certificate ON orders (replaces_certificate_id);
