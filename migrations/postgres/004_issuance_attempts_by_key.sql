-- The PCA audit looks up issuance attempts by the key they asked a certificate for.
CREATE INDEX issuance_attempts_by_spki ON issuance_attempts (spki_sha256);
