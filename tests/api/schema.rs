//! Schema history: the two migration folders define one schema, and a database made
//! by the previous release's migrations upgrades with its data intact.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use roster::domain::{ApiKeyId, GroupId, TenantId, Timestamp, UserId};
use serde_json::{Value, json};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

use crate::helpers::{TestApp, TestDatabase, expect_json};

/// The last migration of the previous release: a database migrated up to and
/// including this version is what an operator upgrading from it has. Move it to the
/// newest version of a release when that release is cut, so that the upgrade test
/// always starts from the schema in the field.
const PREVIOUS_RELEASE: i64 = 20261123000007;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("src/store/migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("src/store/migrations/postgres");

/// Tables whose key and indexes cannot start with `tenant_id` because they belong to
/// no tenant. Every other table's key and every index must start with it.
const ABOVE_TENANTS: &[&str] = &[
    // The operator credential is the one thing above tenants (SPEC): found by the
    // hash of its secret alone.
    "operator_credentials",
];

/// Indexes only SQLite has: it stores a `WITHOUT ROWID` table's rows in the primary
/// key's tree, so an index of the key's columns alone is the narrow one PostgreSQL's
/// primary key already is.
const SQLITE_ONLY_INDEXES: &[&str] = &[
    // The tenant's user ids in order, which a numbered page skips (store/positions.rs).
    "users_order",
];

/// sqlx's own bookkeeping, not part of Roster's schema.
const SQLX_TABLE: &str = "_sqlx_migrations";

/// A table's columns, each with whether it may hold NULL.
type Columns = BTreeMap<(String, String), bool>;

/// An index: its table, name, columns in order, and whether it is unique.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    table: String,
    name: String,
    columns: Vec<String>,
    unique: bool,
}

/// The keys (primary key columns in order) of every table.
type Keys = BTreeMap<String, Vec<String>>;

/// A foreign key: its table and columns, the table and columns it references, and
/// what deleting the referenced row does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    table: String,
    columns: Vec<String>,
    references: String,
    referenced: Vec<String>,
    on_delete: String,
}

struct Schema {
    columns: Columns,
    /// Each column's SQLite storage class (a PostgreSQL type is mapped to the class
    /// the SQLite folder stores it as).
    types: BTreeMap<(String, String), String>,
    keys: Keys,
    /// Every index but the primary key's.
    indexes: BTreeSet<Index>,
    foreign_keys: BTreeSet<ForeignKey>,
}

/// The SQLite storage class that stores what a PostgreSQL column of `data_type`
/// holds: ids and hashes as BLOB, times and flags as INTEGER, JSON as TEXT, floating
/// point as REAL.
fn sqlite_class(data_type: &str) -> String {
    match data_type {
        "uuid" | "bytea" => "BLOB",
        "text" | "jsonb" => "TEXT",
        "bigint" | "boolean" | "timestamp with time zone" => "INTEGER",
        "double precision" => "REAL",
        other => other,
    }
    .to_owned()
}

async fn sqlite_schema(pool: &SqlitePool) -> Schema {
    // Every table is STRICT, where a PRIMARY KEY column cannot hold NULL (in a plain
    // rowid table it could, whatever the SQL standard says).
    let lax: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM pragma_table_list \
         WHERE schema = 'main' AND type = 'table' AND NOT strict \
         AND name NOT LIKE 'sqlite_%' AND name <> $1",
    )
    .bind(SQLX_TABLE)
    .fetch_all(pool)
    .await
    .expect("read the table list");
    assert!(lax.is_empty(), "tables that are not STRICT: {lax:?}");

    let rows: Vec<(String, String, i64, i64, String)> = sqlx::query_as(
        "SELECT m.name, p.name, p.\"notnull\", p.pk, p.type \
         FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> $1",
    )
    .bind(SQLX_TABLE)
    .fetch_all(pool)
    .await
    .expect("read the columns");
    let mut columns = Columns::new();
    let mut types = BTreeMap::new();
    let mut keyed: BTreeMap<String, BTreeMap<i64, String>> = BTreeMap::new();
    for (table, column, not_null, pk, class) in rows {
        types.insert((table.clone(), column.clone()), class);
        if pk > 0 {
            keyed
                .entry(table.clone())
                .or_default()
                .insert(pk, column.clone());
        }
        columns.insert((table, column), not_null == 0 && pk == 0);
    }
    let keys = keyed
        .into_iter()
        .map(|(table, columns)| (table, columns.into_values().collect()))
        .collect();

    let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
        "SELECT m.name, l.name, l.origin, l.\"unique\", i.name \
         FROM sqlite_master m, pragma_index_list(m.name) l, pragma_index_info(l.name) i \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> $1 \
         ORDER BY m.name, l.name, i.seqno",
    )
    .bind(SQLX_TABLE)
    .fetch_all(pool)
    .await
    .expect("read the indexes");
    let mut indexes: BTreeMap<(String, String), Index> = BTreeMap::new();
    for (table, name, origin, unique, column) in rows {
        if origin == "pk" {
            continue;
        }
        indexes
            .entry((table.clone(), name.clone()))
            .or_insert_with(|| Index {
                table,
                name,
                columns: Vec::new(),
                unique: unique != 0,
            })
            .columns
            .push(column);
    }
    let rows: Vec<(String, i64, String, String, String, String)> = sqlx::query_as(
        "SELECT m.name, f.id, f.\"table\", f.\"from\", f.\"to\", f.on_delete \
         FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> $1 \
         ORDER BY m.name, f.id, f.seq",
    )
    .bind(SQLX_TABLE)
    .fetch_all(pool)
    .await
    .expect("read the foreign keys");
    let mut foreign_keys: BTreeMap<(String, i64), ForeignKey> = BTreeMap::new();
    for (table, id, references, from, to, on_delete) in rows {
        let key = foreign_keys
            .entry((table.clone(), id))
            .or_insert_with(|| ForeignKey {
                table,
                columns: Vec::new(),
                references,
                referenced: Vec::new(),
                on_delete,
            });
        key.columns.push(from);
        key.referenced.push(to);
    }
    Schema {
        columns,
        types,
        keys,
        indexes: indexes.into_values().collect(),
        foreign_keys: foreign_keys.into_values().collect(),
    }
}

async fn postgres_schema(pool: &PgPool) -> Schema {
    let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text, data_type::text, \
                collation_name::text \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> $1",
    )
    .bind(SQLX_TABLE)
    .fetch_all(pool)
    .await
    .expect("read the columns");
    let mut columns = Columns::new();
    let mut types = BTreeMap::new();
    for (table, column, nullable, data_type, collation) in rows {
        // A folded key is compared byte-wise, as SQLite's BINARY collation does.
        if column.ends_with("_key") && data_type == "text" {
            assert_eq!(
                collation.as_deref(),
                Some("C"),
                "{table}.{column} is a folded key without COLLATE \"C\""
            );
        }
        types.insert((table.clone(), column.clone()), sqlite_class(&data_type));
        columns.insert((table, column), nullable == "YES");
    }

    let rows: Vec<(String, String, bool, bool, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, c.relname::text, i.indisprimary, i.indisunique, \
                array_agg(a.attname::text ORDER BY k.ord) \
         FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE n.nspname = 'public' AND t.relname <> $1 \
         GROUP BY t.relname, c.relname, i.indisprimary, i.indisunique",
    )
    .bind(SQLX_TABLE)
    .fetch_all(pool)
    .await
    .expect("read the indexes");
    let mut keys = Keys::new();
    let mut indexes = BTreeSet::new();
    for (table, name, primary, unique, columns) in rows {
        if primary {
            keys.insert(table, columns);
        } else {
            indexes.insert(Index {
                table,
                name,
                columns,
                unique,
            });
        }
    }
    // (table, referenced table, on delete, columns, referenced columns)
    type Row = (String, String, String, Vec<String>, Vec<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.relname::text, r.relname::text, \
                CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'a' THEN 'NO ACTION' \
                     WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' \
                     ELSE 'SET DEFAULT' END, \
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n \
                      ORDER BY k.o), \
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n \
                      ORDER BY k.o) \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE c.contype = 'f' AND n.nspname = 'public'",
    )
    .fetch_all(pool)
    .await
    .expect("read the foreign keys");
    let foreign_keys = rows
        .into_iter()
        .map(
            |(table, references, on_delete, columns, referenced)| ForeignKey {
                table,
                columns,
                references,
                referenced,
                on_delete,
            },
        )
        .collect();
    Schema {
        columns,
        types,
        keys,
        indexes,
        foreign_keys,
    }
}

/// Every table's key and every index starts with `tenant_id`, but for the tables of
/// [`ABOVE_TENANTS`].
fn assert_tenant_first(backend: &str, schema: &Schema) {
    let tables: BTreeSet<&String> = schema.columns.keys().map(|(table, _)| table).collect();
    for table in tables {
        let key = schema.keys.get(table);
        assert!(key.is_some(), "{backend}: {table} has no primary key");
        if ABOVE_TENANTS.contains(&table.as_str()) {
            continue;
        }
        assert_eq!(
            key.and_then(|key| key.first()).map(String::as_str),
            Some("tenant_id"),
            "{backend}: the key of {table} does not start with tenant_id"
        );
    }
    for index in &schema.indexes {
        if ABOVE_TENANTS.contains(&index.table.as_str()) {
            continue;
        }
        assert_eq!(
            index.columns.first().map(String::as_str),
            Some("tenant_id"),
            "{backend}: index {} does not start with tenant_id",
            index.name
        );
    }
    // The allow-list names only tables that exist and need it.
    for table in ABOVE_TENANTS {
        assert!(
            schema
                .columns
                .keys()
                .any(|(t, column)| t == table && column != "tenant_id"),
            "{backend}: {table} is allowed without tenant_id but is not in the schema"
        );
        assert!(
            !schema
                .columns
                .contains_key(&(table.to_string(), "tenant_id".to_owned())),
            "{backend}: {table} has a tenant_id; take it off the allow-list"
        );
    }
}

/// The (version, description) of every migration of a folder.
fn versions(migrator: &Migrator) -> Vec<(i64, String)> {
    migrator
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

/// The file names in a migration folder.
fn file_names(folder: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    std::fs::read_dir(&dir)
        .expect("the migration folder")
        .map(|entry| {
            entry
                .expect("a migration file")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_two_migration_folders_define_the_same_tables_and_columns() {
    // The folders name the same migrations, one to one, in the same order.
    assert_eq!(
        file_names("src/store/migrations/sqlite"),
        file_names("src/store/migrations/postgres")
    );
    // What `sqlx::migrate!` embedded at build time is what the folders hold now
    // (build.rs rebuilds when they change).
    for (folder, migrator) in [
        ("src/store/migrations/sqlite", &SQLITE_MIGRATIONS),
        ("src/store/migrations/postgres", &POSTGRES_MIGRATIONS),
    ] {
        let embedded: BTreeSet<String> = migrator
            .iter()
            .map(|m| format!("{}_{}.sql", m.version, m.description.replace(' ', "_")))
            .collect();
        assert_eq!(
            embedded,
            file_names(folder),
            "{folder} as built and on disk"
        );
    }
    let sqlite_versions = versions(&SQLITE_MIGRATIONS);
    assert_eq!(sqlite_versions, versions(&POSTGRES_MIGRATIONS));
    assert!(
        sqlite_versions
            .iter()
            .any(|(version, _)| *version == PREVIOUS_RELEASE),
        "PREVIOUS_RELEASE names no migration"
    );

    // SQLite, always.
    let sqlite = TestDatabase::Sqlite(tempfile::tempdir().expect("temporary directory"));
    let store = roster::store::Store::connect(&sqlite.url(), &Default::default())
        .await
        .expect("the SQLite database opens");
    store.migrate().await.expect("SQLite migrates");
    drop(store);
    let pool = sqlite_pool(&sqlite.url()).await;
    let sqlite_schema = sqlite_schema(&pool).await;
    pool.close().await;
    assert!(
        sqlite_schema
            .columns
            .contains_key(&("users".to_owned(), "tenant_id".to_owned())),
        "the SQLite schema was read"
    );
    assert!(
        sqlite_schema
            .foreign_keys
            .iter()
            .any(|key| key.table == "memberships"
                && key.references == "users"
                && key.columns == ["tenant_id", "user_id"]
                && key.on_delete == "CASCADE"),
        "the SQLite foreign keys were read: {:?}",
        sqlite_schema.foreign_keys
    );
    assert_tenant_first("SQLite", &sqlite_schema);

    // PostgreSQL, when one is configured.
    let postgres = TestDatabase::create().await;
    if matches!(postgres, TestDatabase::Sqlite(_)) {
        eprintln!("ROSTER_TEST_DATABASE_URL is not set: the PostgreSQL half is skipped");
        return;
    }
    let store = roster::store::Store::connect(&postgres.url(), &Default::default())
        .await
        .expect("the PostgreSQL database opens");
    store.migrate().await.expect("PostgreSQL migrates");
    drop(store);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&postgres.url())
        .await
        .expect("connect to PostgreSQL");
    let postgres_schema = postgres_schema(&pool).await;
    pool.close().await;
    assert_tenant_first("PostgreSQL", &postgres_schema);

    assert_eq!(
        differences(&sqlite_schema.columns, &postgres_schema.columns),
        Vec::<String>::new(),
        "columns (table, column, nullable) differ between SQLite and PostgreSQL"
    );
    assert_eq!(
        sqlite_schema.types, postgres_schema.types,
        "columns are stored otherwise than the other backend's type maps to"
    );
    assert_eq!(
        sqlite_schema.foreign_keys, postgres_schema.foreign_keys,
        "foreign keys differ"
    );
    assert_eq!(
        sqlite_schema.keys, postgres_schema.keys,
        "primary keys differ"
    );
    // SQLite names a key's own index sqlite_autoindex_*; both leave it out above.
    let shared: BTreeSet<Index> = (sqlite_schema.indexes.into_iter())
        .filter(|index| !SQLITE_ONLY_INDEXES.contains(&index.name.as_str()))
        .collect();
    assert_eq!(shared, postgres_schema.indexes, "indexes differ");
}

/// What one side has and the other lacks or has otherwise, readably.
fn differences(sqlite: &Columns, postgres: &Columns) -> Vec<String> {
    let mut out = Vec::new();
    for ((table, column), nullable) in sqlite {
        match postgres.get(&(table.clone(), column.clone())) {
            None => out.push(format!("{table}.{column}: only on SQLite")),
            Some(other) if other != nullable => out.push(format!(
                "{table}.{column}: nullable {nullable} on SQLite, {other} on PostgreSQL"
            )),
            Some(_) => {}
        }
    }
    for (table, column) in postgres.keys() {
        if !sqlite.contains_key(&(table.clone(), column.clone())) {
            out.push(format!("{table}.{column}: only on PostgreSQL"));
        }
    }
    out
}

async fn sqlite_pool(url: &str) -> SqlitePool {
    let options = SqliteConnectOptions::from_str(url)
        .expect("a SQLite URL")
        .create_if_missing(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("open the SQLite file")
}

/// A database at the previous release's schema, reached by plain SQL.
enum OldDatabase {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A value to bind, encoded as each backend's schema stores it.
enum Param {
    Id(uuid::Uuid),
    Text(String),
    NoText,
    Int(i64),
    Bool(bool),
    Time(Timestamp),
    NoTime,
    Bytes(Vec<u8>),
    Json(Value),
}

impl OldDatabase {
    /// Migrates `url` up to and including [`PREVIOUS_RELEASE`], as that release did.
    async fn create(url: &str) -> Self {
        let previous = |all: &Migrator| Migrator {
            migrations: all
                .iter()
                .filter(|m| m.version <= PREVIOUS_RELEASE)
                .cloned()
                .collect(),
            ..Migrator::DEFAULT
        };
        if url.starts_with("sqlite:") {
            let pool = sqlite_pool(url).await;
            previous(&SQLITE_MIGRATIONS)
                .run(&pool)
                .await
                .expect("the previous release's migrations run on SQLite");
            OldDatabase::Sqlite(pool)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .expect("connect to PostgreSQL");
            previous(&POSTGRES_MIGRATIONS)
                .run(&pool)
                .await
                .expect("the previous release's migrations run on PostgreSQL");
            OldDatabase::Postgres(pool)
        }
    }

    /// Runs one statement whose placeholders are `$1`, `$2`, … in order.
    async fn execute(&self, sql: &str, params: Vec<Param>) {
        match self {
            OldDatabase::Sqlite(pool) => {
                let mut query = sqlx::query(sql);
                for param in params {
                    query = match param {
                        Param::Id(id) => query.bind(id),
                        Param::Text(text) => query.bind(text),
                        Param::NoText => query.bind(None::<String>),
                        Param::Int(n) => query.bind(n),
                        Param::Bool(b) => query.bind(i64::from(b)),
                        Param::Time(at) => query.bind(at),
                        Param::NoTime => query.bind(None::<Timestamp>),
                        Param::Bytes(bytes) => query.bind(bytes),
                        Param::Json(value) => query.bind(value.to_string()),
                    };
                }
                query.execute(pool).await.expect(sql);
            }
            OldDatabase::Postgres(pool) => {
                let mut query = sqlx::query(sql);
                for param in params {
                    query = match param {
                        Param::Id(id) => query.bind(id),
                        Param::Text(text) => query.bind(text),
                        Param::NoText => query.bind(None::<String>),
                        Param::Int(n) => query.bind(n),
                        Param::Bool(b) => query.bind(b),
                        Param::Time(at) => query.bind(at),
                        Param::NoTime => query.bind(None::<Timestamp>),
                        Param::Bytes(bytes) => query.bind(bytes),
                        Param::Json(value) => query.bind(value),
                    };
                }
                query.execute(pool).await.expect(sql);
            }
        }
    }

    async fn close(self) {
        match self {
            OldDatabase::Sqlite(pool) => pool.close().await,
            OldDatabase::Postgres(pool) => pool.close().await,
        }
    }
}

/// A user as inserted into the old schema.
struct OldUser {
    id: UserId,
    email: &'static str,
    user_name: Option<&'static str>,
    first_name: &'static str,
    last_name: &'static str,
    phone: Option<&'static str>,
    company: Option<&'static str>,
    country_code: Option<&'static str>,
    role: &'static str,
    status: &'static str,
    external_id: Option<&'static str>,
    /// A password set before the upgrade.
    password: Option<&'static str>,
}

/// An Argon2id PHC string of `password`, as the previous release stored them.
/// The profile the migration makes of a user of the previous schema: its email as
/// the primary work email, its phone as the work phone, its country as a work
/// address, its company as the organization, its names as the displayName and an
/// admin's role as an "admin" role value.
fn migrated_profile(user: &OldUser) -> Value {
    let value = |value: &str, kind: Option<&str>, primary: Option<bool>| json!({ "value": value, "type": kind, "primary": primary, "display": null });
    json!({
        "displayName": format!("{} {}", user.first_name, user.last_name),
        "nickName": null, "profileUrl": null, "title": null, "userType": null,
        "preferredLanguage": null, "locale": null, "timezone": null,
        "formattedName": null, "middleName": null, "honorificPrefix": null,
        "honorificSuffix": null,
        "emails": [value(user.email, Some("work"), Some(true))],
        "phoneNumbers": user.phone.map(|p| vec![value(p, Some("work"), None)]).unwrap_or_default(),
        "ims": [], "photos": [],
        "addresses": user.country_code.map(|c| vec![json!({
            "formatted": null, "streetAddress": null, "locality": null, "region": null,
            "postalCode": null, "country": c, "type": "work", "primary": null,
        })]).unwrap_or_default(),
        "entitlements": [],
        "roles": if user.role == "admin" { vec![value("admin", None, None)] } else { vec![] },
        "x509Certificates": [],
        "employeeNumber": null, "costCenter": null, "organization": user.company,
        "division": null, "department": null, "manager": null,
    })
}

fn password_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let salt = SaltString::encode_b64(b"saltsaltsaltsalt").expect("a salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("a hash")
        .to_string()
}

fn text(value: Option<&'static str>) -> Param {
    value.map_or(Param::NoText, |value| Param::Text(value.into()))
}

#[tokio::test]
async fn a_database_of_the_previous_schema_upgrades_with_its_data_intact() {
    let database = TestDatabase::create().await;
    let url = database.url();
    let old = OldDatabase::create(&url).await;

    let tenant = TenantId::generate();
    let created = Timestamp::from_millis(1_763_900_000_123);
    let updated = Timestamp::from_millis(1_763_900_555_456);
    old.execute(
        "INSERT INTO tenants (tenant_id, name, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
        vec![
            Param::Id(tenant.as_uuid()),
            Param::Text("Before the upgrade".into()),
            Param::Int(3),
            Param::Time(created),
            Param::Time(updated),
        ],
    )
    .await;

    let users = [
        OldUser {
            id: UserId::generate(),
            email: "Ada.Lovelace@Example.com",
            user_name: Some("ada@idp.example"),
            first_name: "Ada",
            last_name: "Lovelace",
            phone: Some("+44 20 7946 0000"),
            company: Some("Analytical Engines Ltd"),
            country_code: Some("GB"),
            role: "admin",
            status: "active",
            external_id: Some("okta-00u1"),
            password: Some("correct horse battery staple"),
        },
        OldUser {
            id: UserId::generate(),
            email: "grace@example.com",
            user_name: None,
            first_name: "Grace",
            last_name: "Hopper",
            phone: None,
            company: None,
            country_code: None,
            role: "member",
            status: "disabled",
            external_id: None,
            password: None,
        },
        OldUser {
            id: UserId::generate(),
            email: "zoë@example.com",
            user_name: None,
            first_name: "Zoë",
            last_name: "Ñúñez",
            phone: Some("+34 600 000 000"),
            company: None,
            country_code: Some("ES"),
            role: "member",
            status: "pending",
            external_id: Some("entra-7"),
            password: None,
        },
    ];
    for user in &users {
        let user_name_key = user.user_name.unwrap_or(user.email).to_lowercase();
        old.execute(
            "INSERT INTO users (tenant_id, id, email, email_key, first_name, first_name_key, \
             last_name, last_name_key, phone, company, country_code, role, status, \
             external_id, user_name, user_name_key, password_hash, password_changed_at, \
             version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21)",
            vec![
                Param::Id(tenant.as_uuid()),
                Param::Id(user.id.as_uuid()),
                Param::Text(user.email.into()),
                Param::Text(user.email.to_lowercase()),
                Param::Text(user.first_name.into()),
                Param::Text(user.first_name.to_lowercase()),
                Param::Text(user.last_name.into()),
                Param::Text(user.last_name.to_lowercase()),
                text(user.phone),
                text(user.company),
                text(user.country_code),
                Param::Text(user.role.into()),
                Param::Text(user.status.into()),
                text(user.external_id),
                text(user.user_name),
                Param::Text(user_name_key),
                user.password
                    .map_or(Param::NoText, |p| Param::Text(password_hash(p))),
                user.password
                    .map_or(Param::NoTime, |_| Param::Time(created)),
                Param::Int(2),
                Param::Time(created),
                Param::Time(updated),
            ],
        )
        .await;
    }

    let group = GroupId::generate();
    old.execute(
        "INSERT INTO groups (tenant_id, id, name, name_key, description, owner, \
         federated_attribute_values, external_id, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        vec![
            Param::Id(tenant.as_uuid()),
            Param::Id(group.as_uuid()),
            Param::Text("Engineers".into()),
            Param::Text("engineers".into()),
            Param::Text("Everyone who builds".into()),
            Param::Text("SCIM".into()),
            Param::Json(json!(["cn=engineers", "cn=staff"])),
            Param::Text("entra-group-1".into()),
            Param::Int(4),
            Param::Time(created),
            Param::Time(updated),
        ],
    )
    .await;
    // Ada's default group is Engineers; Grace is a plain member; Zoë is in none.
    for (user, is_default) in [(&users[0], true), (&users[1], false)] {
        old.execute(
            "INSERT INTO memberships (tenant_id, group_id, user_id, is_default, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                Param::Id(tenant.as_uuid()),
                Param::Id(group.as_uuid()),
                Param::Id(user.id.as_uuid()),
                Param::Bool(is_default),
                Param::Time(created),
            ],
        )
        .await;
    }

    // An admin key and an access token issued for it, both in the formats of that
    // release: the database keeps only their SHA-256.
    let random = "A".repeat(43);
    let key_secret = format!("rk_{}_{random}", tenant.as_uuid().simple());
    let token_secret = format!("rt_{}_{random}", tenant.as_uuid().simple());
    let key = ApiKeyId::generate();
    old.execute(
        "INSERT INTO api_keys (tenant_id, id, name, description, role, secret_hash, \
         expires_at, revoked_at, last_used_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vec![
            Param::Id(tenant.as_uuid()),
            Param::Id(key.as_uuid()),
            Param::Text("provisioning".into()),
            Param::Text("made before the upgrade".into()),
            Param::Text("admin".into()),
            Param::Bytes(roster::auth::sha256(&key_secret)),
            Param::NoTime,
            Param::NoTime,
            Param::NoTime,
            Param::Time(created),
        ],
    )
    .await;
    old.execute(
        "INSERT INTO access_tokens (tenant_id, id, secret_hash, api_key_id, expires_at, \
         revoked_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            Param::Id(tenant.as_uuid()),
            Param::Id(uuid::Uuid::now_v7()),
            Param::Bytes(roster::auth::sha256(&token_secret)),
            Param::Id(key.as_uuid()),
            Param::Time(Timestamp::now().plus_seconds(3600)),
            Param::NoTime,
            Param::Time(Timestamp::now()),
        ],
    )
    .await;
    old.close().await;

    // The real server over it: it migrates on start.
    let app = TestApp::over(database).await;
    let t = tenant.as_uuid().to_string();
    let at = |ts: Timestamp| serde_json::to_value(ts).expect("a timestamp");

    let tenant_body =
        expect_json(app.get(&format!("/v1/tenants/{t}"), &key_secret).await, 200).await;
    assert_eq!(tenant_body["name"], "Before the upgrade");

    let expected: Vec<Value> = users
        .iter()
        .map(|user| {
            json!({
                "id": user.id.as_uuid().to_string(),
                "tenantId": t,
                "email": user.email,
                "userName": user.user_name.unwrap_or(user.email),
                "firstName": user.first_name,
                "lastName": user.last_name,
                "phone": user.phone,
                "company": user.company,
                "countryCode": user.country_code,
                "role": user.role,
                "status": user.status,
                "externalId": user.external_id,
                "profile": migrated_profile(user),
                "defaultGroupId": (user.id == users[0].id).then(|| group.as_uuid().to_string()),
                "hasPassword": user.password.is_some(),
                "twoFactorEnabled": false,
                "login": {
                    "successfulLogins": 0,
                    "failedLogins": 0,
                    "lastSuccessfulLoginAt": null,
                    "lastFailedLoginAt": null,
                    "lastActionAt": null,
                    "passwordChangedAt": user.password.map(|_| at(created)),
                },
                "attributes": {},
                "createdAt": at(created),
                "updatedAt": at(updated),
            })
        })
        .collect();
    for (user, expected) in users.iter().zip(&expected) {
        let body = expect_json(
            app.get(
                &format!("/v1/tenants/{t}/users/{}", user.id.as_uuid()),
                &key_secret,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(&body, expected, "{} after the upgrade", user.email);
    }
    let list = expect_json(
        app.get(&format!("/v1/tenants/{t}/users"), &key_secret)
            .await,
        200,
    )
    .await;
    assert_eq!(list["items"], Value::Array(expected.clone()));

    let expected_group = json!({
        "id": group.as_uuid().to_string(),
        "tenantId": t,
        "name": "Engineers",
        "description": "Everyone who builds",
        "owner": "SCIM",
        "federatedAttributeValues": ["cn=engineers", "cn=staff"],
        "externalId": "entra-group-1",
        "createdAt": at(created),
        "updatedAt": at(updated),
    });
    let body = expect_json(
        app.get(
            &format!("/v1/tenants/{t}/groups/{}", group.as_uuid()),
            &key_secret,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(body, expected_group);
    let members = expect_json(
        app.get(
            &format!("/v1/tenants/{t}/groups/{}/members", group.as_uuid()),
            &key_secret,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        members["items"],
        json!([expected[0].clone(), expected[1].clone()])
    );
    for (user, groups) in users.iter().zip([
        json!([expected_group.clone()]),
        json!([expected_group.clone()]),
        json!([]),
    ]) {
        let body = expect_json(
            app.get(
                &format!("/v1/tenants/{t}/users/{}/groups", user.id.as_uuid()),
                &key_secret,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(body["items"], groups, "the groups of {}", user.email);
    }

    // phone, company and country code moved into the profile: a work phone, the
    // enterprise organization and a work address's country, read the same through
    // every face; the email is the primary work email and an admin has the "admin"
    // role value.
    let ada = users[0].id.as_uuid().to_string();
    let scim_ada = expect_json(
        app.get(&format!("/scim/v2/Users/{ada}"), &key_secret).await,
        200,
    )
    .await;
    assert_eq!(scim_ada["displayName"], "Ada Lovelace", "{scim_ada}");
    assert_eq!(
        scim_ada["emails"],
        json!([{ "value": users[0].email, "type": "work", "primary": true }])
    );
    assert_eq!(
        scim_ada["phoneNumbers"],
        json!([{ "value": "+44 20 7946 0000", "type": "work" }])
    );
    assert_eq!(
        scim_ada["addresses"],
        json!([{ "country": "GB", "type": "work" }])
    );
    assert_eq!(scim_ada["roles"], json!([{ "value": "admin" }]));
    assert_eq!(
        scim_ada["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({ "organization": "Analytical Engines Ltd" })
    );
    let scim_grace = expect_json(
        app.get(
            &format!("/scim/v2/Users/{}", users[1].id.as_uuid()),
            &key_secret,
        )
        .await,
        200,
    )
    .await;
    for absent in ["phoneNumbers", "addresses", "roles"] {
        assert!(scim_grace.get(absent).is_none(), "{scim_grace}");
    }
    let dynatrace = expect_json(
        app.get(&format!("/iam/v1/accounts/{t}/users/groups"), &key_secret)
            .await,
        200,
    )
    .await;
    for user in &users {
        let sixeye = expect_json(
            app.get(&format!("/users/{}", user.id.as_uuid()), &key_secret)
                .await,
            200,
        )
        .await;
        assert_eq!(
            sixeye["data"]["attributes"]["phoneNumber"],
            json!(user.phone),
            "{sixeye}"
        );
        let dynatrace = &dynatrace
            .as_array()
            .expect("Dynatrace's users")
            .iter()
            .find(|u| u["uid"] == user.id.as_uuid().to_string())
            .expect("the user on Dynatrace")
            .clone();
        assert_eq!(dynatrace["company"], json!(user.company), "{dynatrace}");
        assert_eq!(
            dynatrace["countryCode"],
            json!(user.country_code),
            "{dynatrace}"
        );
        // The reset-mail time added since: none was sent before the upgrade.
        assert_eq!(
            dynatrace["userLoginMetadata"]["resetPasswordTokenSentAt"],
            Value::Null,
            "{dynatrace}"
        );
    }

    // The userName kept before the upgrade still finds its user.
    let found = expect_json(
        app.get(
            "/scim/v2/Users?filter=userName%20eq%20%22ADA%40idp.example%22",
            &key_secret,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(
        found["Resources"][0]["id"],
        users[0].id.as_uuid().to_string()
    );

    // The access token from before acts as its admin key, as it did: it reads and
    // it writes.
    let body = expect_json(
        app.get(&format!("/v1/tenants/{t}/users"), &token_secret)
            .await,
        200,
    )
    .await;
    assert_eq!(body["items"], Value::Array(expected));
    // The password set before the upgrade still signs its user in.
    let signed_in = app
        .client
        .post(app.url(&format!("/v1/tenants/{t}/auth/login")))
        .json(&json!({"email": users[0].email, "password": users[0].password}))
        .send()
        .await
        .expect("request sent");
    expect_json(signed_in, 200).await;

    expect_json(
        app.post(
            &format!("/v1/tenants/{t}/groups"),
            &token_secret,
            &json!({"name": "Made after the upgrade"}),
        )
        .await,
        201,
    )
    .await;
}
