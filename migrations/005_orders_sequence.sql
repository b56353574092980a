-- The orders list (RFC 8555 §7.1.2.1) pages in creation order. created_at has millisecond
-- resolution and ids are random, so two orders made in the same millisecond had no stable order;
-- a per-table sequence number gives one (assigned in the inserting transaction).
ALTER TABLE orders ADD COLUMN seq INTEGER;
UPDATE orders SET seq = rowid;
CREATE UNIQUE INDEX orders_seq ON orders (seq);
CREATE INDEX orders_by_account_seq ON orders (account_id, seq);
