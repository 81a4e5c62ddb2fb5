-- A value filter (emails[type eq "work" and value eq "…"], emails[primary eq true])
-- reads a value's key, type and primary flag together: the index holds all three,
-- so that a search is answered from the index alone (SQLite, without statistics,
-- would otherwise walk the tenant's values by the primary key).
DROP INDEX user_values_value_key;
CREATE INDEX user_values_value_key ON user_values (tenant_id, attribute, value_key, type, is_primary);
