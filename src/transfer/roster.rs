//! Roster's own NDJSON: one JSON object per line, each naming what it holds in
//! `object` (not `type`, which an attribute's declaration has of its own).
//!
//! An export writes a header (`roster.export`), then the tenant's declared
//! attributes, its groups (each after the groups it lies directly within, named in
//! `parents`), its users (naming their direct `groups` and `defaultGroup`) and its
//! API keys. Each object is in the shape /v1 shows it, so a line reads like the API,
//! and an import reads each as the /v1 endpoint that creates one reads its body.
//! Besides, an import takes `member` lines: `{"object": "member", "group": NAME,
//! "user": EMAIL}` or `{"object": "member", "group": NAME, "subgroup": NAME}`.

use std::io::BufRead;

use serde_json::{Map, Value, json};

use crate::domain::{
    Email, GroupKey, GroupName, GroupRecord, MemberKey, MemberRecord, Record, Timestamp, UserRecord,
};
use crate::http::v1::records;
use crate::service::ExportItem;

use super::{Line, ReadError, ReadOptions, refused};

/// The longest line an import reads: far above any user's (a full profile is a few
/// KiB), far below what would let one line exhaust memory.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The `object` of the first line of an export.
const HEADER: &str = "roster.export";

/// This format's version, written in the header.
const VERSION: u32 = 1;

const OBJECTS: &str = "must be one of user, group, member, attribute, apiKey, roster.export";

const API_KEYS_SKIPPED: &str =
    "API keys are not imported: their secrets never leave Roster; make new keys";

pub(super) fn read(
    input: &mut dyn BufRead,
    options: &ReadOptions,
    emit: &mut dyn FnMut(Line) -> bool,
) -> Result<(), ReadError> {
    let mut buffer = Vec::new();
    let mut number = 0u64;
    loop {
        buffer.clear();
        let read = read_line(input, &mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let line = if read > MAX_LINE_BYTES {
            Err(refused(
                "",
                format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            ))
        } else {
            let text = buffer.trim_ascii();
            if text.is_empty() {
                continue;
            }
            record(text, options)
        };
        if !emit((number, line)) {
            return Ok(());
        }
    }
}

/// Reads one line into `buffer`, keeping at most [`MAX_LINE_BYTES`] + 1 of it (the
/// rest is passed over); answers how many bytes the line had.
fn read_line(input: &mut dyn BufRead, buffer: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (&available[..=end], true),
            None => (available, false),
        };
        let room = (MAX_LINE_BYTES + 1).saturating_sub(buffer.len());
        buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        total += used;
        input.consume(used);
        if done {
            return Ok(total);
        }
    }
}

/// The record a line holds.
fn record(
    text: &[u8],
    options: &ReadOptions,
) -> Result<Record, Vec<crate::domain::FieldViolation>> {
    let value: Value = crate::http::body::parse_json(text).map_err(|error| match error {
        crate::http::body::BodyError::Field { field, reason } => refused(field, reason),
        crate::http::body::BodyError::Malformed(reason) => refused("", reason),
        other => refused("", format!("{other:?}")),
    })?;
    let Value::Object(object) = value else {
        return Err(refused("", "each line must be a JSON object"));
    };
    let kind = match object.get("object") {
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err(refused("object", OBJECTS)),
    };
    match kind.as_str() {
        "user" => user(object, options),
        "group" => group(object),
        "member" => member(&object),
        "attribute" => Ok(Record::Attribute(Box::new(records::read_attribute(
            object,
        )?))),
        "apiKey" => Ok(Record::Skip(API_KEYS_SKIPPED)),
        HEADER => Ok(Record::Skip("the export's header")),
        _ => Err(refused("object", OBJECTS)),
    }
}

fn names(
    object: &Map<String, Value>,
    field: &str,
) -> Result<Vec<GroupName>, Vec<crate::domain::FieldViolation>> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => (items.iter().enumerate())
            .map(|(i, item)| match item {
                Value::String(name) => GroupName::parse(name.clone())
                    .map_err(|e| refused(format!("{field}[{i}]"), e.reason)),
                _ => Err(refused(format!("{field}[{i}]"), "must be a group's name")),
            })
            .collect(),
        Some(_) => Err(refused(field, "must be an array of group names")),
    }
}

fn name(
    object: &Map<String, Value>,
    field: &str,
) -> Result<Option<GroupName>, Vec<crate::domain::FieldViolation>> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) => GroupName::parse(name.clone())
            .map(Some)
            .map_err(|e| refused(field, e.reason)),
        Some(_) => Err(refused(field, "must be a group's name")),
    }
}

fn created_at(
    object: &Map<String, Value>,
) -> Result<Option<Timestamp>, Vec<crate::domain::FieldViolation>> {
    match object.get("createdAt") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(at)) => Timestamp::parse_rfc3339(at)
            .map(Some)
            .map_err(|e| refused("createdAt", e.to_string())),
        Some(_) => Err(refused("createdAt", "must be an RFC 3339 time")),
    }
}

fn id<T>(object: &Map<String, Value>, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    object.get("id").and_then(Value::as_str).and_then(parse)
}

fn user(
    object: Map<String, Value>,
    options: &ReadOptions,
) -> Result<Record, Vec<crate::domain::FieldViolation>> {
    let groups = names(&object, "groups")?;
    let default_group = name(&object, "defaultGroup")?;
    let created_at = created_at(&object)?;
    let id = id(&object, |s| crate::domain::UserId::parse(s).ok());
    let user = records::read_user(object, &options.policy)?;
    Ok(Record::User(Box::new(UserRecord {
        id,
        source_id: None,
        user,
        created_at,
        groups,
        default_group,
    })))
}

fn group(object: Map<String, Value>) -> Result<Record, Vec<crate::domain::FieldViolation>> {
    let parents = names(&object, "parents")?;
    let created_at = created_at(&object)?;
    let id = id(&object, |s| crate::domain::GroupId::parse(s).ok());
    let group = records::read_group(object)?;
    Ok(Record::Group(Box::new(GroupRecord {
        id,
        source_id: None,
        group,
        created_at,
        parents,
    })))
}

fn member(object: &Map<String, Value>) -> Result<Record, Vec<crate::domain::FieldViolation>> {
    if let Some(field) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "object" | "group" | "user" | "subgroup"))
    {
        return Err(refused(field.clone(), "is not a field of a member line"));
    }
    let Some(group) = name(object, "group")? else {
        return Err(refused("group", "is required: the group's name"));
    };
    let member = match (object.get("user"), name(object, "subgroup")?) {
        (Some(Value::String(email)), None) => MemberKey::UserEmail(
            Email::parse(email.clone()).map_err(|e| refused("user", e.reason))?,
        ),
        (None, Some(subgroup)) => MemberKey::Group(GroupKey::Name(subgroup)),
        _ => {
            return Err(refused(
                "user",
                "give either user (an email) or subgroup (a group's name)",
            ));
        }
    };
    Ok(Record::Member(MemberRecord {
        group: GroupKey::Name(group),
        member,
    }))
}

/// The first line of an export.
pub fn header(tenant: crate::domain::TenantId, password_hashes: bool) -> Value {
    json!({
        "object": HEADER,
        "version": VERSION,
        "tenantId": tenant,
        "exportedAt": Timestamp::now(),
        "passwordHashes": password_hashes,
    })
}

/// The line of one exported object; `declared` are the tenant's attributes, which
/// user lines hold values of.
pub fn line(item: ExportItem, declared: &[crate::domain::AttributeDefinition]) -> Value {
    let (kind, mut value) = match item {
        ExportItem::Attribute(attribute) => ("attribute", records::attribute(attribute)),
        ExportItem::Group { group, parents } => {
            let mut value = records::group(group);
            value["parents"] = json!(parents);
            ("group", value)
        }
        ExportItem::User {
            user,
            groups,
            default_group,
            password_hash,
        } => {
            let mut value = records::user(*user, declared, password_hash);
            value["groups"] = json!(groups);
            value["defaultGroup"] = json!(default_group);
            ("user", value)
        }
        ExportItem::ApiKey(key) => ("apiKey", records::api_key(key)),
    };
    value["object"] = Value::String(kind.into());
    value
}
