-- An access token granted only read scopes reads and never writes, whatever its
-- key's role; earlier tokens act as their key, as before.
ALTER TABLE access_tokens ADD COLUMN read_only boolean NOT NULL DEFAULT FALSE;
