-- The SHA-256 of the finalize CSR's SubjectPublicKeyInfo (hex), written in the same conditional
-- write that moves the order to processing, so the issuance job (attempts by key, the search of
-- the PCA for what it issued) does not parse the CSR again. Orders finalized before this migration
-- keep NULL here; their csr_der is still there to compute it from.
ALTER TABLE orders ADD COLUMN csr_spki_sha256 TEXT;
