-- The name an identity provider knows a user by (SCIM userName). NULL means the
-- user's email, and follows it when the email changes. user_name_key is the folded
-- form of whichever applies, so that a userName cannot equal another user's email
-- used as its userName, in any letter case.
ALTER TABLE users ADD COLUMN user_name text;
ALTER TABLE users ADD COLUMN user_name_key text COLLATE "C";
UPDATE users SET user_name_key = email_key;
ALTER TABLE users ALTER COLUMN user_name_key SET NOT NULL;
CREATE UNIQUE INDEX users_user_name_key ON users (tenant_id, user_name_key);
