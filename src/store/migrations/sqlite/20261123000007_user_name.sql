-- The name an identity provider knows a user by (SCIM userName). NULL means the
-- user's email, and follows it when the email changes. user_name_key is the folded
-- form of whichever applies, so that a userName cannot equal another user's email
-- used as its userName, in any letter case. SQLite adds a NOT NULL column only with
-- a default; every insert and update sets the key.
ALTER TABLE users ADD COLUMN user_name TEXT;
ALTER TABLE users ADD COLUMN user_name_key TEXT NOT NULL DEFAULT '';
UPDATE users SET user_name_key = email_key;
CREATE UNIQUE INDEX users_user_name_key ON users (tenant_id, user_name_key);
