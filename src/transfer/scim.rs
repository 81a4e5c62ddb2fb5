//! A SCIM 2.0 ListResponse (RFC 7644 §3.4.2) of User and Group resources, as a
//! SCIM service's `GET /Users` and `GET /Groups` answer; also a bare JSON array of
//! resources, or NDJSON with one resource per line.
//!
//! Users are read exactly as the SCIM face reads a `POST /Users` body. Groups give
//! a group record each, and their `members` member records, which come after every
//! user and group record of the document so that each names one read before it.
//!
//! A ListResponse or an array is one JSON document, read whole into memory (members
//! without a `type` are looked up among the document's resources): large
//! directories are better brought in as Roster's NDJSON or as CSV, which are read a
//! record at a time. NDJSON of resources is read whole all the same.

use std::collections::HashSet;
use std::io::BufRead;

use serde_json::Value;

use crate::domain::{
    Description, ExternalId, FieldViolation, GroupId, GroupKey, GroupName, GroupOwner, GroupRecord,
    MemberKey, MemberRecord, NewGroup, Record, Timestamp, UserId, UserRecord, Violations,
    json_kind,
};
use crate::http::body::BodyError;
use crate::http::scim::ScimError;
use crate::service::ServiceError;

use super::{Line, ReadError, ReadOptions, refused};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// What a resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

pub(super) fn read(
    input: &mut dyn BufRead,
    options: &ReadOptions,
    emit: &mut dyn FnMut(Line) -> bool,
) -> Result<(), ReadError> {
    let mut text = Vec::new();
    input.read_to_end(&mut text)?;
    let resources = resources(&text)?;
    let kinds: Vec<Option<Kind>> = resources
        .iter()
        .map(|(_, r)| r.as_ref().ok().and_then(|r| kind(r).ok()))
        .collect();
    let ids_of = |wanted: Kind| -> HashSet<&str> {
        resources
            .iter()
            .zip(&kinds)
            .filter(|(_, kind)| **kind == Some(wanted))
            .filter_map(|((_, r), _)| r.as_ref().ok().and_then(|r| text_of(r, "id")))
            .collect()
    };
    let document = Document {
        users: ids_of(Kind::User),
        groups: ids_of(Kind::Group),
    };
    let mut members: Vec<(u64, MemberRecord)> = Vec::new();
    for (number, resource) in &resources {
        let result = match resource {
            Err(violations) => Err(violations.clone()),
            Ok(resource) => match kind(resource) {
                Err(violations) => Err(violations),
                Ok(Kind::User) => user(resource, options),
                Ok(Kind::Group) => group(resource, &document).map(|(record, its_members)| {
                    members.extend(its_members.into_iter().map(|m| (*number, m)));
                    record
                }),
            },
        };
        if !emit((*number, result)) {
            return Ok(());
        }
    }
    for (number, member) in members {
        if !emit((number, Ok(Record::Member(member)))) {
            return Ok(());
        }
    }
    Ok(())
}

/// The ids of the document's resources, for members that do not say their type.
struct Document<'a> {
    users: HashSet<&'a str>,
    groups: HashSet<&'a str>,
}

/// A resource with its number, or why the text there is no resource.
type Numbered = (u64, Result<Value, Vec<FieldViolation>>);

/// The resources of the input with their numbers: their position in `Resources`
/// (or the array), or their line in NDJSON. A line of NDJSON that is not JSON is
/// refused alone.
fn resources(text: &[u8]) -> Result<Vec<Numbered>, ReadError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let numbered = |items: Vec<Value>| {
        (1..)
            .zip(items)
            .map(|(number, item)| (number, Ok(item)))
            .collect()
    };
    let not_scim = || {
        ReadError::Format(format!(
            "not a SCIM import: expected a ListResponse ({LIST_RESPONSE}) with its \
             Resources, a JSON array of resources, or one resource per line"
        ))
    };
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Array(items)) => Ok(numbered(items)),
        Ok(document @ Value::Object(_)) => match attribute(&document, "Resources") {
            Value::Array(items) => Ok(numbered(items.clone())),
            Value::Null if kind(&document).is_ok() => Ok(numbered(vec![document])),
            Value::Null => Err(not_scim()),
            other => Err(ReadError::Format(format!(
                "Resources must be an array of resources, not {}",
                json_kind(other)
            ))),
        },
        Ok(_) => Err(not_scim()),
        Err(whole) => {
            // NDJSON, when its first line is a resource of its own.
            let mut lines = (1..).zip(text.split(|b| *b == b'\n'));
            let first = lines
                .by_ref()
                .find(|(_, line)| !line.trim_ascii().is_empty())
                .and_then(|(number, line)| Some((number, serde_json::from_slice(line).ok()?)));
            let Some((number, first)) = first.filter(|(_, first)| kind(first).is_ok()) else {
                return Err(ReadError::Format(format!("not JSON: {whole}")));
            };
            let mut resources = vec![(number, Ok(first))];
            for (number, line) in lines {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                let resource = serde_json::from_slice(line)
                    .map_err(|e| refused("resource", format!("is not JSON: {e}")));
                resources.push((number, resource));
            }
            Ok(resources)
        }
    }
}

/// A resource's kind: its core schema, else its `meta.resourceType`.
fn kind(resource: &Value) -> Result<Kind, Vec<FieldViolation>> {
    if !resource.is_object() {
        return Err(refused(
            "resource",
            format!("must be a JSON object, not {}", json_kind(resource)),
        ));
    }
    let names = |wanted: &str| match attribute(resource, "schemas") {
        Value::Array(schemas) => schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(wanted))),
        _ => false,
    };
    let resource_type = text_of(attribute(resource, "meta"), "resourceType");
    let is = |kind: &str| resource_type.is_some_and(|t| t.eq_ignore_ascii_case(kind));
    if names(USER) || (!names(GROUP) && is("User")) {
        Ok(Kind::User)
    } else if names(GROUP) || is("Group") {
        Ok(Kind::Group)
    } else {
        Err(refused(
            "schemas",
            format!(
                "names neither {USER} nor {GROUP}, and meta.resourceType is neither User nor Group"
            ),
        ))
    }
}

fn user(resource: &Value, options: &ReadOptions) -> Result<Record, Vec<FieldViolation>> {
    let user = crate::http::scim::new_user(resource, &options.policy).map_err(violations)?;
    let source_id = text_of(resource, "id").map(str::to_owned);
    Ok(Record::User(Box::new(UserRecord {
        id: source_id.as_deref().and_then(|id| UserId::parse(id).ok()),
        source_id,
        user,
        created_at: created_at(resource)?,
        // A User's groups are read-only and list indirect memberships too: the
        // Groups' members say who is in which.
        groups: Vec::new(),
        default_group: None,
    })))
}

/// A Group resource's group record and its member records.
fn group(
    resource: &Value,
    document: &Document,
) -> Result<(Record, Vec<MemberRecord>), Vec<FieldViolation>> {
    let mut v = Violations::new();
    let name = match attribute(resource, "displayName") {
        Value::String(name) => v.check("displayName", GroupName::parse(name.as_str())),
        Value::Null => {
            v.add("displayName", "is required");
            None
        }
        other => {
            v.add(
                "displayName",
                format!("must be a string, not {}", json_kind(other)),
            );
            None
        }
    };
    let external_id = match attribute(resource, "externalId") {
        Value::Null => None,
        Value::String(id) => v.check("externalId", ExternalId::parse(id.as_str())),
        other => {
            v.add(
                "externalId",
                format!("must be a string, not {}", json_kind(other)),
            );
            None
        }
    };
    let source_id = match attribute(resource, "id") {
        Value::Null => None,
        Value::String(id) => Some(id.clone()),
        other => {
            v.add("id", format!("must be a string, not {}", json_kind(other)));
            None
        }
    };
    let members = members(resource, document, &mut v);
    let created_at = match created_at(resource) {
        Ok(at) => at,
        Err(violations) => {
            for violation in violations {
                v.add(&violation.field, violation.reason);
            }
            None
        }
    };
    v.finish()?;
    let Some(name) = name else {
        return Err(refused("displayName", "is required"));
    };
    let key = match &source_id {
        Some(id) => GroupKey::Source(id.clone()),
        None => GroupKey::Name(name.clone()),
    };
    let members = members
        .into_iter()
        .map(|member| MemberRecord {
            group: key.clone(),
            member,
        })
        .collect();
    let record = GroupRecord {
        id: source_id.as_deref().and_then(|id| GroupId::parse(id).ok()),
        source_id,
        group: NewGroup {
            name,
            description: Description::empty(),
            owner: GroupOwner::Scim,
            federated_attribute_values: Vec::new(),
            external_id,
        },
        created_at,
        parents: Vec::new(),
    };
    Ok((Record::Group(Box::new(record)), members))
}

/// The members a Group names, each by the id its resource has in the document.
fn members(resource: &Value, document: &Document, v: &mut Violations) -> Vec<MemberKey> {
    let items = match attribute(resource, "members") {
        Value::Null => return Vec::new(),
        Value::Array(items) => items,
        other => {
            v.add(
                "members",
                format!("must be an array, not {}", json_kind(other)),
            );
            return Vec::new();
        }
    };
    let mut members = Vec::with_capacity(items.len());
    for item in items {
        let Some(value) = text_of(item, "value") else {
            v.add("members.value", "must be a string, the member's id");
            continue;
        };
        let kind = match attribute(item, "type") {
            Value::Null if document.users.contains(value) => Kind::User,
            Value::Null if document.groups.contains(value) => Kind::Group,
            Value::Null => {
                v.add(
                    "members.value",
                    format!("{value} is the id of no User or Group of the document"),
                );
                continue;
            }
            Value::String(t) if t.eq_ignore_ascii_case("User") => Kind::User,
            Value::String(t) if t.eq_ignore_ascii_case("Group") => Kind::Group,
            _ => {
                v.add("members.type", "must be \"User\" or \"Group\"");
                continue;
            }
        };
        members.push(match kind {
            Kind::User => MemberKey::UserSource(value.to_owned()),
            Kind::Group => MemberKey::Group(GroupKey::Source(value.to_owned())),
        });
    }
    members
}

/// `meta.created`, when given.
fn created_at(resource: &Value) -> Result<Option<Timestamp>, Vec<FieldViolation>> {
    match attribute(attribute(resource, "meta"), "created") {
        Value::Null => Ok(None),
        Value::String(at) => Timestamp::parse_rfc3339(at)
            .map(Some)
            .map_err(|e| refused("meta.created", e.reason)),
        other => Err(refused(
            "meta.created",
            format!("must be an RFC 3339 date-time, not {}", json_kind(other)),
        )),
    }
}

/// Why the SCIM face refused a User resource, as the fields it names. The face's
/// details read `field: reason`.
fn violations(error: ScimError) -> Vec<FieldViolation> {
    match error {
        ScimError::Service(ServiceError::Invalid(violations)) => violations,
        ScimError::Body(BodyError::Field { field, reason }) => refused(field, reason),
        other => {
            let (_, body) = other.into_parts();
            let detail = body["detail"].as_str().unwrap_or("is not a valid User");
            match detail.split_once(": ") {
                Some((field, reason))
                    if !field.is_empty() && !field.contains(char::is_whitespace) =>
                {
                    refused(field, reason)
                }
                _ => refused("resource", detail),
            }
        }
    }
}

/// An attribute by name in any letter case (RFC 7643 §2.1); `null` when absent.
fn attribute<'a>(object: &'a Value, name: &str) -> &'a Value {
    object
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map_or(&Value::Null, |(_, v)| v)
}

fn text_of<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    attribute(object, name).as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, Status};

    const FIXTURE: &str = include_str!("../../tests/fixtures/import/scim-list-response.json");

    fn read_all(input: &str) -> Result<Vec<Line>, ReadError> {
        crate::transfer::read_all(crate::transfer::Format::Scim, input)
    }

    /// A short account of each line: its number and what it holds.
    fn summary(lines: &[Line]) -> Vec<(u64, String)> {
        lines
            .iter()
            .map(|(number, result)| {
                let what = match result {
                    Ok(Record::User(u)) => format!("user {}", u.user.email),
                    Ok(Record::Group(g)) => format!("group {}", g.group.name),
                    Ok(Record::Member(m)) => format!("member {:?} of {:?}", m.member, m.group),
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

    fn source(id: &str) -> GroupKey {
        GroupKey::Source(id.to_owned())
    }

    #[test]
    fn a_list_response_gives_users_and_groups_then_their_members() {
        let lines = read_all(FIXTURE).unwrap();
        let summary = summary(&lines);
        let users = "2819c223-7f76-453a-919d-413861904646";
        let engineering = "e9e30dba-f08f-4109-8486-d5c6a331660a";
        let backend = "fc348aa8-3835-40eb-a20e-2f1a6e3ac5b1";
        let expected = vec![
            (1, "user bjensen@example.com".to_owned()),
            (2, "user jsmith@example.com".to_owned()),
            (3, "group Engineering".to_owned()),
            (4, "group Backend".to_owned()),
            (5, "refused emails".to_owned()),
            (6, "refused displayName".to_owned()),
            (7, "refused schemas".to_owned()),
            (
                3,
                format!(
                    "member {:?} of {:?}",
                    MemberKey::UserSource(users.into()),
                    source(engineering)
                ),
            ),
            (
                3,
                format!(
                    "member {:?} of {:?}",
                    MemberKey::Group(source(backend)),
                    source(engineering)
                ),
            ),
            (
                4,
                format!(
                    "member {:?} of {:?}",
                    MemberKey::UserSource("jsmith-42".into()),
                    source(backend)
                ),
            ),
        ];
        assert_eq!(summary, expected);

        let Ok(Record::User(barbara)) = &lines[0].1 else {
            unreachable!()
        };
        assert_eq!(barbara.source_id.as_deref(), Some(users));
        assert_eq!(barbara.id.map(|id| id.to_string()).as_deref(), Some(users));
        assert_eq!(
            barbara.created_at.map(|at| at.rfc3339()).as_deref(),
            Some("2010-01-23T04:56:22.000Z")
        );
        assert_eq!(barbara.user.user_name.as_ref().unwrap().as_str(), "bjensen");
        assert_eq!(barbara.user.first_name.as_str(), "Barbara");
        assert_eq!(barbara.user.role, Role::Admin);
        assert_eq!(
            barbara.user.external_id.as_ref().unwrap().as_str(),
            "bjensen"
        );
        assert_eq!(
            barbara.user.profile.enterprise.department.as_deref(),
            Some("Tour Operations")
        );
        let Ok(Record::User(john)) = &lines[1].1 else {
            unreachable!()
        };
        // An id that is no UUID is kept for members, and the user gets a new one.
        assert_eq!(john.source_id.as_deref(), Some("jsmith-42"));
        assert!(john.id.is_none());
        assert_eq!(john.user.status, Status::Disabled);
        let Ok(Record::Group(engineering_group)) = &lines[2].1 else {
            unreachable!()
        };
        assert_eq!(
            engineering_group.id.map(|id| id.to_string()).as_deref(),
            Some(engineering)
        );
        assert_eq!(engineering_group.group.owner, GroupOwner::Scim);
        assert_eq!(
            engineering_group
                .group
                .external_id
                .as_ref()
                .map(ExternalId::as_str),
            Some("eng")
        );
    }

    #[test]
    fn a_refused_user_names_the_field_the_scim_face_names() {
        let lines = read_all(FIXTURE).unwrap();
        let Err(violations) = &lines[4].1 else {
            panic!("{:?}", lines[4])
        };
        assert_eq!(violations[0].field, "emails");
        assert!(violations[0].reason.starts_with("every user has an email"));
    }

    #[test]
    fn a_bare_array_and_ndjson_are_read_too() {
        let user = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"a@example.com"}"#;
        let group = r#"{"meta":{"resourceType":"Group"},"id":"g1","displayName":"A","members":[{"value":"u1"}]}"#;
        let array = read_all(&format!("[{user},{group}]")).unwrap();
        let ndjson = read_all(&format!("{user}\n\nnot json\n{group}\n")).unwrap();
        let member = format!(
            "member {:?} of {:?}",
            MemberKey::UserSource("u1".into()),
            source("g1")
        );
        assert_eq!(
            summary(&array),
            [
                (1, "user a@example.com".to_owned()),
                (2, "group A".to_owned()),
                (2, member.clone()),
            ]
        );
        assert_eq!(
            summary(&ndjson),
            [
                (1, "user a@example.com".to_owned()),
                (3, "refused resource".to_owned()),
                (4, "group A".to_owned()),
                (4, member),
            ]
        );
    }

    #[test]
    fn what_is_not_scim_is_refused_whole() {
        for input in [
            "",
            "42",
            "{\"totalResults\": 0}",
            "{\"Resources\": 5}",
            "nope",
        ] {
            assert!(
                matches!(read_all(input), Err(ReadError::Format(_))),
                "{input:?}"
            );
        }
    }

    #[test]
    fn a_member_of_unknown_type_and_id_refuses_its_group() {
        let lines = read_all(
            r#"{"Resources":[{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName":"A","members":[{"value":"nobody"},{"value":"x","type":"Robot"}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            summary(&lines),
            [(1, "refused members.value,members.type".to_owned())]
        );
    }
}
