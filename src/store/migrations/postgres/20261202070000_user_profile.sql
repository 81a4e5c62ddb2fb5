-- The full SCIM user profile (RFC 7643 §4.1 and the enterprise extension §4.3).
-- Single-valued attributes are columns of users; every multi-valued one (emails,
-- phoneNumbers, ims, photos, addresses, entitlements, roles, x509Certificates) is
-- rows of user_values, in the order written. phone, company and country_code move
-- into the new model: a work phone, the enterprise organization and a work address's
-- country. Every user gets its email as a primary work email, and every admin an
-- "admin" role value, since the role is read from the roles an identity provider
-- writes. display_name starts as the names, as SCIM rendered it before.
ALTER TABLE users ADD COLUMN display_name text;
ALTER TABLE users ADD COLUMN display_name_key text COLLATE "C";
ALTER TABLE users ADD COLUMN nick_name text;
ALTER TABLE users ADD COLUMN profile_url text;
ALTER TABLE users ADD COLUMN title text;
ALTER TABLE users ADD COLUMN user_type text;
ALTER TABLE users ADD COLUMN preferred_language text;
ALTER TABLE users ADD COLUMN locale text;
ALTER TABLE users ADD COLUMN timezone text;
ALTER TABLE users ADD COLUMN name_formatted text;
ALTER TABLE users ADD COLUMN middle_name text;
ALTER TABLE users ADD COLUMN honorific_prefix text;
ALTER TABLE users ADD COLUMN honorific_suffix text;
ALTER TABLE users ADD COLUMN employee_number text;
ALTER TABLE users ADD COLUMN cost_center text;
ALTER TABLE users ADD COLUMN organization text;
ALTER TABLE users ADD COLUMN division text;
ALTER TABLE users ADD COLUMN department text;
ALTER TABLE users ADD COLUMN manager_id uuid;

CREATE INDEX users_display_name_key ON users (tenant_id, display_name_key);
CREATE INDEX users_manager ON users (tenant_id, manager_id);

CREATE TABLE user_values (
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    attribute       text NOT NULL,
    position        bigint NOT NULL,
    value           text,
    value_key       text COLLATE "C",
    type            text,
    is_primary      boolean,
    display         text,
    formatted       text,
    street_address  text,
    locality        text,
    region          text,
    postal_code     text,
    country         text,
    PRIMARY KEY (tenant_id, user_id, attribute, position),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_values_value_key ON user_values (tenant_id, attribute, value_key);

UPDATE users SET
    organization = company,
    display_name = NULLIF(trim(first_name || ' ' || last_name), '');
UPDATE users SET display_name_key = NULLIF(trim(first_name_key || ' ' || last_name_key), '');

INSERT INTO user_values (tenant_id, user_id, attribute, position, value, value_key, type, is_primary)
SELECT tenant_id, id, 'emails', 0, email, email_key, 'work', TRUE FROM users;
INSERT INTO user_values (tenant_id, user_id, attribute, position, value, value_key, type, is_primary)
SELECT tenant_id, id, 'phoneNumbers', 0, phone, lower(phone), 'work', NULL
FROM users WHERE phone IS NOT NULL;
INSERT INTO user_values (tenant_id, user_id, attribute, position, type, is_primary, country)
SELECT tenant_id, id, 'addresses', 0, 'work', NULL, country_code
FROM users WHERE country_code IS NOT NULL;
INSERT INTO user_values (tenant_id, user_id, attribute, position, value, value_key, is_primary)
SELECT tenant_id, id, 'roles', 0, 'admin', 'admin', NULL FROM users WHERE role = 'admin';

ALTER TABLE users DROP COLUMN phone;
ALTER TABLE users DROP COLUMN company;
ALTER TABLE users DROP COLUMN country_code;
