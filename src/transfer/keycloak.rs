//! A Keycloak realm export: the JSON `kc.sh export --realm X --users realm_file`
//! writes (the realm with its `groups` and `users`), or one of the
//! `X-users-N.json` files a split export writes (`users` only), or a bare array of
//! users. docs/import-formats.md says what maps to what.
//!
//! Records come in this order, each numbered by its position in the document:
//! declarations of the user attributes Roster's profile has no place for, then the
//! groups, each after its parent (numbered from 1 in that order, subgroups after
//! their parent), then the users (numbered on after the last group; an attribute's
//! declaration carries the number of the first user that has it).
//!
//! Keycloak names a group uniquely only among its siblings, Roster in the whole
//! tenant: a group keeps its name, and a later group of the same name (in any
//! letter case) elsewhere in the tree is named by its path without the leading
//! slash (`sales/emea`). Users' group paths name the groups so named; a path the
//! document does not hold (a split export's users file read alone) names the group
//! of its last segment.
//!
//! The document is read whole into memory; `kc.sh export` splits users into files of
//! 50 by default, which keeps each small.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{
    AttributeName, AttributeType, AttributeWrite, Description, FieldViolation, GroupId, GroupName,
    GroupOwner, GroupRecord, ImportedHash, Invalid, KeycloakCredential, Mutability, NewAttribute,
    NewGroup, NewUserFields, Record, Returned, Role, Status, Timestamp, UserId, UserRecord,
    Violations, json_kind,
};

use super::{Line, ReadError, ReadOptions, refused};

/// Keycloak user attributes that carry over into Roster's profile (the first value).
const PROFILE_ATTRIBUTES: [&str; 5] = [
    "phoneNumber",
    "locale",
    "title",
    "department",
    "employeeNumber",
];

/// Keycloak's own bookkeeping of users federated from LDAP: not the user's data.
const INTERNAL_ATTRIBUTES: [&str; 4] = [
    "LDAP_ID",
    "LDAP_ENTRY_DN",
    "createTimestamp",
    "modifyTimestamp",
];

/// A user as Keycloak exports it (`UserRepresentation`); what Roster does not read
/// (emailVerified, totp, requiredActions, clientRoles, federatedIdentities, …) is
/// left out.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeycloakUser {
    id: Option<String>,
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    enabled: Option<bool>,
    created_timestamp: Option<i64>,
    #[serde(default)]
    attributes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    realm_roles: Vec<String>,
    #[serde(default)]
    credentials: Vec<Credential>,
    service_account_client_id: Option<String>,
}

/// A credential as Keycloak exports it: `secretData` and `credentialData` are JSON
/// documents inside strings.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credential {
    #[serde(rename = "type")]
    kind: Option<String>,
    secret_data: Option<String>,
    credential_data: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct SecretData {
    value: String,
    salt: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialData {
    hash_iterations: u32,
    algorithm: String,
    #[serde(default)]
    additional_parameters: BTreeMap<String, Vec<String>>,
}

pub(super) fn read(
    input: &mut dyn BufRead,
    options: &ReadOptions,
    emit: &mut dyn FnMut(Line) -> bool,
) -> Result<(), ReadError> {
    let document: Value = serde_json::from_reader(input).map_err(|e| {
        if e.is_io() {
            ReadError::Io(e.into())
        } else {
            ReadError::Format(format!("not JSON: {e}"))
        }
    })?;
    let (groups, users) = match &document {
        Value::Array(users) => (&[][..], users.as_slice()),
        Value::Object(realm)
            if ["realm", "users", "groups"]
                .iter()
                .any(|k| realm.contains_key(*k)) =>
        {
            (array(&document, "groups")?, array(&document, "users")?)
        }
        _ => {
            return Err(ReadError::Format(
                "not a Keycloak realm export: expected an object with the realm's groups \
                 and users (or a users file of a split export)"
                    .into(),
            ));
        }
    };
    let mut tree = GroupTree::default();
    let mut group_lines = Vec::new();
    for group in groups {
        tree.walk(group, None, &mut group_lines);
    }
    let first_user = group_lines.len() as u64 + 1;
    let users: Vec<(u64, Result<KeycloakUser, Vec<FieldViolation>>)> = (first_user..)
        .zip(users)
        .map(|(number, user)| (number, parse_user(user)))
        .collect();
    let declared = Declared::of(&users);
    for line in declared.records() {
        if !emit(line) {
            return Ok(());
        }
    }
    for (number, result) in group_lines.into_iter().enumerate() {
        if !emit((number as u64 + 1, result)) {
            return Ok(());
        }
    }
    for (number, user) in users {
        let result = user.and_then(|user| user_record(user, &tree, &declared, options));
        if !emit((number, result)) {
            return Ok(());
        }
    }
    Ok(())
}

/// An array member of the realm, empty when absent.
fn array<'a>(document: &'a Value, name: &str) -> Result<&'a [Value], ReadError> {
    match document.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(ReadError::Format(format!(
            "{name} must be an array, not {}",
            json_kind(other)
        ))),
    }
}

fn parse_user(user: &Value) -> Result<KeycloakUser, Vec<FieldViolation>> {
    serde_path_to_error::deserialize(user).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { "user".into() } else { field };
        refused(field, e.into_inner().to_string())
    })
}

/// The groups read so far, by path, with the names they were given in Roster.
#[derive(Default)]
struct GroupTree {
    /// Each path (`/parent/child`) and the Roster name of its group.
    names: HashMap<String, GroupName>,
    /// The names given, by [`GroupName::key`].
    taken: HashMap<String, String>,
}

impl GroupTree {
    /// Reads `group` and its subgroups, depth first, into `lines`: each group
    /// after its parent (whose path and name are `parent`).
    fn walk(
        &mut self,
        group: &Value,
        parent: Option<(&str, &GroupName)>,
        lines: &mut Vec<Result<Record, Vec<FieldViolation>>>,
    ) {
        let read = self.group(group, parent);
        let (path, name) = match &read {
            Ok((path, record)) => (Some(path.clone()), Some(record.group.name.clone())),
            Err(_) => (None, None),
        };
        lines.push(read.map(|(_, record)| Record::Group(Box::new(record))));
        let subgroups = match group.get("subGroups") {
            Some(Value::Array(subgroups)) => subgroups.as_slice(),
            _ => &[],
        };
        for subgroup in subgroups {
            match (&path, &name) {
                (Some(path), Some(name)) => self.walk(subgroup, Some((path, name)), lines),
                // Within a refused group: refused too, and so are its own subgroups.
                _ => self.refuse_within(subgroup, lines),
            }
        }
    }

    fn refuse_within(&self, group: &Value, lines: &mut Vec<Result<Record, Vec<FieldViolation>>>) {
        lines.push(Err(refused(
            "parent",
            "the group it lies within was refused",
        )));
        if let Some(Value::Array(subgroups)) = group.get("subGroups") {
            for subgroup in subgroups {
                self.refuse_within(subgroup, lines);
            }
        }
    }

    /// One group's record and its path.
    fn group(
        &mut self,
        group: &Value,
        parent: Option<(&str, &GroupName)>,
    ) -> Result<(String, GroupRecord), Vec<FieldViolation>> {
        let Some(name) = group.get("name").and_then(Value::as_str) else {
            return Err(refused("name", "is required and must be a string"));
        };
        let path = match group.get("path").and_then(Value::as_str) {
            Some(path) => path.to_owned(),
            None => format!("{}/{name}", parent.map_or("", |(path, _)| path)),
        };
        let mut v = Violations::new();
        let description = match group.get("description") {
            None | Some(Value::Null) => Some(Description::empty()),
            Some(Value::String(text)) => v.check("description", Description::parse(text.as_str())),
            Some(other) => {
                v.add(
                    "description",
                    format!("must be a string, not {}", json_kind(other)),
                );
                None
            }
        };
        let name = v.check("name", GroupName::parse(name));
        v.finish()?;
        let (Some(name), Some(description)) = (name, description) else {
            return Err(refused("name", "is required"));
        };
        let name = if self.taken.contains_key(&name.key()) {
            let by_path = GroupName::parse(path.trim_start_matches('/'))
                .map_err(|e| refused("path", e.reason))?;
            if let Some(path_of_other) = self.taken.get(&by_path.key()) {
                return Err(refused(
                    "name",
                    format!("both its name and its path are taken by the group at {path_of_other}"),
                ));
            }
            by_path
        } else {
            name
        };
        self.taken.insert(name.key(), path.clone());
        self.names.insert(path.clone(), name.clone());
        let source_id = group.get("id").and_then(Value::as_str).map(str::to_owned);
        let record = GroupRecord {
            id: source_id.as_deref().and_then(|id| GroupId::parse(id).ok()),
            source_id,
            group: NewGroup {
                name,
                description,
                owner: GroupOwner::Local,
                federated_attribute_values: Vec::new(),
                external_id: None,
            },
            created_at: None,
            parents: parent.map(|(_, name)| name.clone()).into_iter().collect(),
        };
        Ok((path, record))
    }

    /// The Roster name of the group at `path`.
    fn name_of(&self, path: &str) -> Result<GroupName, Invalid> {
        if let Some(name) = self.names.get(path) {
            return Ok(name.clone());
        }
        let last = path.rsplit('/').next().unwrap_or(path);
        GroupName::parse(last)
    }
}

/// The user attributes declared for the import: those users have that are neither
/// profile attributes nor Keycloak's bookkeeping, each multi-valued when a user has
/// several values of it.
struct Declared {
    /// By name: the number of the first user with it, and whether it is multi-valued.
    attributes: BTreeMap<String, (u64, bool)>,
}

impl Declared {
    fn of(users: &[(u64, Result<KeycloakUser, Vec<FieldViolation>>)]) -> Self {
        let mut attributes: BTreeMap<String, (u64, bool)> = BTreeMap::new();
        for (number, user) in users {
            let Ok(user) = user else { continue };
            for (name, values) in &user.attributes {
                if !Self::carried(name) || values.is_empty() {
                    continue;
                }
                let entry = attributes.entry(name.clone()).or_insert((*number, false));
                entry.1 |= values.len() > 1;
            }
        }
        Self { attributes }
    }

    /// Whether an attribute of this name goes to a declared attribute.
    fn carried(name: &str) -> bool {
        !PROFILE_ATTRIBUTES.contains(&name)
            && !INTERNAL_ATTRIBUTES.contains(&name)
            && AttributeName::parse(name).is_ok()
    }

    /// The declarations, in the order of the first user with each.
    fn records(&self) -> Vec<Line> {
        let mut lines: Vec<Line> = (self.attributes.iter())
            .filter_map(|(name, (number, multi_valued))| {
                let new = NewAttribute {
                    name: AttributeName::parse(name.as_str()).ok()?,
                    description: Description::parse("A user attribute brought from Keycloak")
                        .ok()?,
                    kind: AttributeType::String,
                    multi_valued: *multi_valued,
                    required: false,
                    unique: false,
                    case_exact: false,
                    mutability: Mutability::ReadWrite,
                    returned: Returned::Default,
                };
                Some((*number, Ok(Record::Attribute(Box::new(new)))))
            })
            .collect();
        lines.sort_by_key(|(number, _)| *number);
        lines
    }

    /// A user's values of the declared attributes, each as its declaration takes it.
    fn write(&self, attributes: &BTreeMap<String, Vec<String>>) -> AttributeWrite {
        AttributeWrite::Merge(
            (attributes.iter())
                .filter_map(|(name, values)| {
                    let (_, multi_valued) = self.attributes.get(name)?;
                    let value = if *multi_valued {
                        Value::from(values.clone())
                    } else {
                        Value::from(values.first()?.clone())
                    };
                    Some((name.clone(), value))
                })
                .collect(),
        )
    }
}

/// Where Roster names a field that Keycloak names otherwise, Keycloak's name.
fn keycloak_field(field: String) -> String {
    match field.as_str() {
        "userName" => "username".into(),
        "phone" => "attributes.phoneNumber".into(),
        "status" => "enabled".into(),
        _ => field,
    }
}

fn user_record(
    user: KeycloakUser,
    tree: &GroupTree,
    declared: &Declared,
    options: &ReadOptions,
) -> Result<Record, Vec<FieldViolation>> {
    if user.service_account_client_id.is_some() {
        return Ok(Record::Skip(
            "a Keycloak client's service account, not a person",
        ));
    }
    let Some(email) = user.email else {
        return Err(refused(
            "email",
            "is required: every Roster user has an email address, and this Keycloak user has none",
        ));
    };
    let mut found = Violations::new();
    let first = |name: &str| user.attributes.get(name).and_then(|v| v.first()).cloned();
    let mut fields = NewUserFields {
        user_name: user
            .username
            .filter(|name| !name.eq_ignore_ascii_case(&email)),
        email,
        first_name: user.first_name.unwrap_or_default(),
        last_name: user.last_name.unwrap_or_default(),
        phone: first("phoneNumber"),
        role: Some(
            if user.realm_roles.iter().any(|r| r == Role::Admin.as_str()) {
                Role::Admin
            } else {
                Role::Member
            }
            .as_str()
            .to_owned(),
        ),
        status: Some(
            if user.enabled.unwrap_or(true) {
                Status::Active
            } else {
                Status::Disabled
            }
            .as_str()
            .to_owned(),
        ),
        attributes: declared.write(&user.attributes),
        ..NewUserFields::default()
    };
    fields.profile.locale = first("locale");
    fields.profile.title = first("title");
    fields.profile.enterprise.department = first("department");
    fields.profile.enterprise.employee_number = first("employeeNumber");
    let mut groups: Vec<GroupName> = Vec::new();
    for path in &user.groups {
        if let Some(name) = found.check("groups", tree.name_of(path))
            && !groups.iter().any(|g| g.key() == name.key())
        {
            groups.push(name);
        }
    }
    let password = user
        .credentials
        .iter()
        .find(|c| c.kind.as_deref() == Some("password"));
    let password_hash = password.and_then(|credential| {
        found.check(
            "credentials",
            password_credential(credential).and_then(|c| imported_hash(&c)),
        )
    });
    let mut user_record = match fields.parse(&options.policy, found) {
        Ok(new) => new,
        Err(violations) => {
            return Err(violations
                .into_iter()
                .map(|v| FieldViolation {
                    field: keycloak_field(v.field),
                    reason: v.reason,
                })
                .collect());
        }
    };
    user_record.password_hash = password_hash;
    let source_id = user.id;
    Ok(Record::User(Box::new(UserRecord {
        id: source_id.as_deref().and_then(|id| UserId::parse(id).ok()),
        source_id,
        user: user_record,
        created_at: user.created_timestamp.map(Timestamp::from_millis),
        groups,
        default_group: None,
    })))
}

/// The hash fields of a password credential, out of its `secretData` and
/// `credentialData` strings. The reasons never quote them.
fn password_credential(credential: &Credential) -> Result<KeycloakCredential, Invalid> {
    let secret: SecretData = credential
        .secret_data
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            Invalid::new("secretData must be a JSON object of the hash's value and salt")
        })?;
    let data: CredentialData = credential
        .credential_data
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            Invalid::new("credentialData must be a JSON object of hashIterations and algorithm")
        })?;
    Ok(KeycloakCredential {
        algorithm: data.algorithm,
        iterations: data.hash_iterations,
        salt: secret.salt,
        value: secret.value,
        additional_parameters: data.additional_parameters,
    })
}

/// The hash of a Keycloak password credential, as Roster stores it: verified as it
/// is at the next sign-in, then re-hashed.
fn imported_hash(credential: &KeycloakCredential) -> Result<ImportedHash, Invalid> {
    ImportedHash::from_keycloak(credential)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AttributeWrite;

    const FIXTURE: &str = include_str!("../../tests/fixtures/import/keycloak-realm.json");

    fn read_all(input: &str) -> Result<Vec<Line>, ReadError> {
        crate::transfer::read_all(crate::transfer::Format::Keycloak, input)
    }

    fn summary(lines: &[Line]) -> Vec<(u64, String)> {
        lines
            .iter()
            .map(|(number, result)| {
                let what = match result {
                    Ok(Record::Attribute(a)) => format!("attribute {}", a.name.as_str()),
                    Ok(Record::User(u)) => format!("user {}", u.user.email),
                    Ok(Record::Group(g)) => {
                        let parents: Vec<&str> = g.parents.iter().map(GroupName::as_str).collect();
                        format!("group {} in [{}]", g.group.name, parents.join(","))
                    }
                    Ok(other) => format!("{other:?}"),
                    Err(violations) => {
                        let fields: Vec<&str> =
                            violations.iter().map(|v| v.field.as_str()).collect();
                        format!("refused {}", fields.join(","))
                    }
                };
                (*number, what)
            })
            .collect()
    }

    #[test]
    fn a_realm_export_gives_attributes_then_groups_parents_first_then_users() {
        let lines = read_all(FIXTURE).unwrap();
        let expected = [
            (9, "attribute costCenter"),
            (9, "attribute nicknames"),
            (1, "group engineering in []"),
            (2, "group backend in [engineering]"),
            (3, "group platform in [backend]"),
            (4, "group frontend in [engineering]"),
            (5, "group sales in []"),
            (6, "group emea in [sales]"),
            (7, "group sales/emea/backend in [emea]"),
            (8, "group support in []"),
            (9, "user alice@example.com"),
            (10, "user bob@example.com"),
            (11, "user carol@example.com"),
            (12, "user dave@example.com"),
            (13, "refused email"),
            (
                14,
                "Skip(\"a Keycloak client's service account, not a person\")",
            ),
            (15, "user Frank@Example.com"),
            (16, "refused firstName,attributes.phoneNumber"),
        ];
        let expected: Vec<(u64, String)> = expected
            .iter()
            .map(|(n, s)| (*n, (*s).to_owned()))
            .collect();
        assert_eq!(summary(&lines), expected);
    }

    #[test]
    fn a_user_maps_its_profile_attributes_groups_and_roles() {
        let lines = read_all(FIXTURE).unwrap();
        let (_, Ok(Record::User(frank))) = &lines[16] else {
            panic!("{:?}", lines[16]);
        };
        assert_eq!(
            frank.source_id.as_deref(),
            Some("8f2c1c55-9d0e-4d8e-a43e-2b1e0c6c7a55")
        );
        assert!(frank.id.is_some());
        assert_eq!(
            frank.created_at.map(|at| at.millis()),
            Some(1_717_171_717_171)
        );
        let user = &frank.user;
        assert_eq!(user.user_name.as_ref().map(|n| n.as_str()), Some("frank"));
        assert_eq!(
            (user.first_name.as_str(), user.last_name.as_str()),
            ("Frank", "Castle")
        );
        assert_eq!(user.role, Role::Admin);
        assert_eq!(user.status, Status::Disabled);
        assert_eq!(user.profile.work_phone(), Some("+1 555 0100"));
        assert_eq!(user.profile.locale.as_deref(), Some("en"));
        assert_eq!(user.profile.title.as_deref(), Some("Engineer"));
        assert_eq!(user.profile.enterprise.department.as_deref(), Some("R&D"));
        assert!(user.password_hash.is_none());
        assert_eq!(
            user.attributes,
            AttributeWrite::Merge(vec![
                ("costCenter".into(), "CC-7".into()),
                ("nicknames".into(), serde_json::json!(["Frankie"])),
            ])
        );
        let groups: Vec<&str> = frank.groups.iter().map(GroupName::as_str).collect();
        // The second "backend" is named by its path; an unknown path by its last part.
        assert_eq!(groups, ["platform", "sales/emea/backend", "contractors"]);
    }

    fn password_of(user: &KeycloakUser) -> &Credential {
        (user.credentials.iter())
            .find(|c| c.kind.as_deref() == Some("password"))
            .unwrap()
    }

    /// The credentials are those of tests/fixtures/hashes/hashes.json (made by
    /// Python's hashlib and argon2-cffi, with their passwords), so that an import can
    /// be signed in with once Keycloak hashes are verified.
    #[test]
    fn each_password_credential_reads_its_hash_fields_and_never_shows_them() {
        let users: Vec<Value> = serde_json::from_str::<Value>(FIXTURE).unwrap()["users"]
            .as_array()
            .unwrap()
            .clone();
        let mut algorithms = Vec::new();
        for user in &users[..4] {
            let user = parse_user(user).unwrap();
            let credential = password_of(&user);
            let fields = password_credential(credential).unwrap();
            assert!(!fields.salt.is_empty() && !fields.value.is_empty());
            let imported = imported_hash(&fields).expect("a Keycloak hash Roster verifies");
            assert!(!format!("{imported:?}").contains(&fields.value));
            assert!(!format!("{credential:?}").contains(&fields.value));
            algorithms.push((fields.algorithm.clone(), fields.iterations));
        }
        assert_eq!(
            algorithms,
            [
                ("pbkdf2-sha256".to_owned(), 27_500),
                ("pbkdf2-sha512".to_owned(), 30_000),
                ("pbkdf2".to_owned(), 20_000),
                ("argon2".to_owned(), 5),
            ]
        );
        let argon2 = password_credential(password_of(&parse_user(&users[3]).unwrap())).unwrap();
        assert_eq!(argon2.additional_parameters["memory"], ["7168"]);
    }

    #[test]
    fn a_users_file_of_a_split_export_and_a_bare_array_are_read() {
        let user = r#"{"username": "a", "email": "a@example.com", "groups": ["/x/y"]}"#;
        for input in [
            format!(r#"{{"realm": "acme", "users": [{user}]}}"#),
            format!("[{user}]"),
        ] {
            let lines = read_all(&input).unwrap();
            let (1, Ok(Record::User(a))) = &lines[0] else {
                panic!("{lines:?}");
            };
            assert_eq!(a.groups[0].as_str(), "y");
        }
    }

    #[test]
    fn what_is_not_a_realm_export_is_refused_whole() {
        for input in ["", "{", "42", r#"{"Resources": []}"#, r#"{"users": {}}"#] {
            assert!(
                matches!(read_all(input), Err(ReadError::Format(_))),
                "{input:?}"
            );
        }
    }

    #[test]
    fn a_group_without_a_name_refuses_its_subgroups_too() {
        let lines = read_all(
            r#"{"groups": [{"path": "/x", "subGroups": [{"name": "y"}]}, {"name": "z"}]}"#,
        )
        .unwrap();
        assert_eq!(
            summary(&lines),
            [
                (1, "refused name".to_owned()),
                (2, "refused parent".to_owned()),
                (3, "group z in []".to_owned()),
            ]
        );
    }
}
