-- A user's personal access key (Tyk's access_key): acts as its user. Only its
-- SHA-256 is kept; the key names its tenant, so it is found through this index.
ALTER TABLE users ADD COLUMN access_key_hash bytea;
CREATE UNIQUE INDEX users_access_key_hash ON users (tenant_id, access_key_hash);
