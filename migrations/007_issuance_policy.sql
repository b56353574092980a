-- Issue 9: an EAB key may narrow its directory's issuance policy (acme/issuance-policy.ts). The
-- key's rules are kept as JSON with the key (NULL: the directory's policy as it is); they are set
-- when the key is made and never changed, so an account's policy cannot widen behind its back.
ALTER TABLE eab_keys ADD COLUMN policy_json TEXT;
-- The EAB key whose policy applied to an order (the account's eab_key_id when the order was made):
-- finalize and the issuance job apply the same narrowing as newOrder did.
ALTER TABLE orders ADD COLUMN eab_key_id TEXT;
