-- The SHA-256 of the finalize CSR's SubjectPublicKeyInfo (hex), written in the same conditional
-- write that moves the order to processing (see ../006_order_csr_spki.sql).
ALTER TABLE orders ADD COLUMN csr_spki_sha256 TEXT;
