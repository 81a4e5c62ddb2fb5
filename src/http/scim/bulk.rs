//! /Bulk (RFC 7644 §3.7): many operations on Users and Groups in one request. Each
//! operation is the single-resource operation its method and path name, made exactly
//! as that endpoint makes it, in its own transaction. `bulkId:<id>` in an operation's
//! path or data names the resource a POST of the same request created; an operation
//! that names one not created yet waits until it is.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::body::BodyError;

use super::error::ScimError;
use super::resources::{Change, ResourceType};
use super::schemas::{BULK_REQUEST, BULK_RESPONSE};
use super::{ScimCaller, Written, etag, scim_body, scim_json, version_precondition};

/// The most operations one bulk request may hold.
pub const MAX_OPERATIONS: usize = 1000;
/// The largest bulk request body, in bytes; the route's body limit is this.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// `POST /Bulk`: runs the operations in order and answers each one's outcome.
pub async fn bulk(
    State(state): State<AppState>,
    scim: ScimCaller,
    request: Request,
) -> Result<Response, ScimError> {
    let body = scim_body(request).await.map_err(|error| match error {
        ScimError::Body(BodyError::TooLarge) => ScimError::TooLarge(format!(
            "The size of the bulk operation exceeds the maxPayloadSize ({MAX_PAYLOAD_BYTES})."
        )),
        other => other,
    })?;
    let request = BulkRequest::read(&body)?;
    let outcomes = request.run(&state, &scim).await;
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [BULK_RESPONSE],
            "Operations": outcomes.iter().map(Outcome::render).collect::<Vec<_>>(),
        }),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One operation of a bulk request, as sent.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    path: String,
    bulk_id: Option<String>,
    version: Option<String>,
    data: Option<Value>,
}

/// A bulk request: its operations (each read, or the outcome of one that could not
/// be) and how many errors end it.
struct BulkRequest {
    operations: Vec<Result<Operation, Box<Outcome>>>,
    fail_on_errors: Option<usize>,
}

impl BulkRequest {
    fn read(body: &Value) -> Result<Self, ScimError> {
        let declared = body["schemas"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s == BULK_REQUEST));
        if !declared {
            return Err(ScimError::bad(
                "invalidSyntax",
                format!("a bulk request declares the schema {BULK_REQUEST}"),
            ));
        }
        let fail_on_errors = match &body["failOnErrors"] {
            Value::Null => None,
            value => Some(
                value
                    .as_u64()
                    .filter(|n| *n >= 1)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        ScimError::bad("invalidValue", "failOnErrors must be a positive integer")
                    })?,
            ),
        };
        let Some(list) = body["Operations"].as_array() else {
            return Err(ScimError::bad(
                "invalidSyntax",
                "Operations must be an array",
            ));
        };
        if list.len() > MAX_OPERATIONS {
            return Err(ScimError::TooLarge(format!(
                "The number of operations exceeds the maxOperations ({MAX_OPERATIONS})."
            )));
        }
        let operations = list
            .iter()
            .map(|op| {
                read_operation(op).map_err(|error| {
                    let method = op["method"].as_str().unwrap_or_default();
                    let bulk_id = op["bulkId"].as_str().map(str::to_owned);
                    Box::new(Outcome::failed(
                        &method.to_ascii_uppercase(),
                        bulk_id,
                        None,
                        error,
                    ))
                })
            })
            .collect();
        Ok(BulkRequest {
            operations,
            fail_on_errors,
        })
    }

    /// Runs the operations: in order, except that one naming a `bulkId` whose POST
    /// comes later waits for it. Operations still waiting on each other when nothing
    /// else can run are circular, and fail. Stops once `failOnErrors` errors occurred.
    /// The outcomes are in the order of the request.
    async fn run(self, state: &AppState, scim: &ScimCaller) -> Vec<Outcome> {
        let mut defined: HashMap<&str, usize> = HashMap::new();
        for (i, op) in self.operations.iter().enumerate() {
            if let Ok(Operation {
                method: Method::Post,
                bulk_id: Some(bulk_id),
                ..
            }) = op
            {
                defined.entry(bulk_id.as_str()).or_insert(i);
            }
        }
        let mut created: HashMap<String, String> = HashMap::new();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; self.operations.len()];
        let mut errors = 0;
        let mut pending: Vec<usize> = (0..self.operations.len()).collect();
        'passes: while !pending.is_empty() {
            let mut waiting = Vec::new();
            for &i in &pending {
                if self.fail_on_errors.is_some_and(|limit| errors >= limit) {
                    break 'passes;
                }
                let outcome = match &self.operations[i] {
                    Err(refused) => (**refused).clone(),
                    Ok(op) => match resolve(op, i, &created, &defined, &outcomes) {
                        Resolution::Waiting => {
                            waiting.push(i);
                            continue;
                        }
                        Resolution::Failed(error) => op.failed(None, error),
                        Resolution::Ready(op)
                            if op.method == Method::Post
                                && defined.get(op.bulk_id()) != Some(&i) =>
                        {
                            let error = ScimError::bad(
                                "invalidValue",
                                format!("bulkId {} is used by an earlier operation", op.bulk_id()),
                            );
                            op.failed(None, error)
                        }
                        Resolution::Ready(op) => perform(state, scim, &op).await,
                    },
                };
                if !outcome.status.is_success() {
                    errors += 1;
                } else if outcome.method == Method::Post.as_str()
                    && let (Some(bulk_id), Some(id)) = (&outcome.bulk_id, outcome.created_id())
                {
                    created.insert(bulk_id.clone(), id);
                }
                outcomes[i] = Some(outcome);
            }
            if waiting.len() == pending.len() {
                // Nothing ran: every operation left waits on another one left.
                for i in waiting {
                    if self.fail_on_errors.is_some_and(|limit| errors >= limit) {
                        break 'passes;
                    }
                    if let Ok(op) = &self.operations[i] {
                        let error = ScimError::Conflict(
                            "the operation's bulkId references are circular: each waits for \
                             a resource another one would create"
                                .to_owned(),
                        );
                        outcomes[i] = Some(op.failed(None, error));
                        errors += 1;
                    }
                }
                break;
            }
            pending = waiting;
        }
        outcomes.into_iter().flatten().collect()
    }
}

fn read_operation(op: &Value) -> Result<Operation, ScimError> {
    let syntax = |detail: &str| ScimError::bad("invalidSyntax", detail.to_owned());
    let method = match op["method"]
        .as_str()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("PATCH") => Method::Patch,
        Some("DELETE") => Method::Delete,
        _ => return Err(syntax("method must be POST, PUT, PATCH or DELETE")),
    };
    let text = |name: &str| match &op[name] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(syntax(&format!("{name} must be a string"))),
    };
    let path = text("path")?.ok_or_else(|| syntax("each operation has a path"))?;
    let bulk_id = text("bulkId")?;
    if method == Method::Post && bulk_id.is_none() {
        return Err(syntax("a POST operation has a bulkId"));
    }
    let data = op.get("data").filter(|d| !d.is_null()).cloned();
    if method != Method::Delete && data.is_none() {
        return Err(syntax("POST, PUT and PATCH operations have data"));
    }
    Ok(Operation {
        method,
        path,
        bulk_id,
        version: text("version")?,
        data,
    })
}

/// The `bulkId:<id>` references in a text.
fn references(text: &str) -> Vec<&str> {
    text.match_indices("bulkId:")
        .map(|(at, prefix)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || "\"'[](),/".contains(c))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|id| !id.is_empty())
        .collect()
}

/// Every string of a JSON value (not the keys), depth first.
fn strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => found.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, found)),
        Value::Object(fields) => fields.values().for_each(|v| strings(v, found)),
        _ => {}
    }
}

/// Replaces each `bulkId:<id>` in a text by the id of the resource created for it.
fn substitute(text: &str, created: &HashMap<String, String>) -> String {
    let mut out = text.to_owned();
    for bulk_id in references(text) {
        if let Some(id) = created.get(bulk_id) {
            out = out.replace(&format!("bulkId:{bulk_id}"), id);
        }
    }
    out
}

fn substitute_all(value: &mut Value, created: &HashMap<String, String>) {
    match value {
        Value::String(s) => *s = substitute(s, created),
        Value::Array(items) => items.iter_mut().for_each(|v| substitute_all(v, created)),
        Value::Object(fields) => fields.values_mut().for_each(|v| substitute_all(v, created)),
        _ => {}
    }
}

enum Resolution {
    /// Every reference resolved: the operation with the ids in place.
    Ready(Operation),
    /// A reference names a POST of this request that has not run yet.
    Waiting,
    Failed(ScimError),
}

impl Operation {
    fn bulk_id(&self) -> &str {
        self.bulk_id.as_deref().unwrap_or_default()
    }

    fn failed(&self, location: Option<String>, error: ScimError) -> Outcome {
        Outcome::failed(self.method.as_str(), self.bulk_id.clone(), location, error)
    }
}

fn resolve(
    op: &Operation,
    at: usize,
    created: &HashMap<String, String>,
    defined: &HashMap<&str, usize>,
    outcomes: &[Option<Outcome>],
) -> Resolution {
    let mut texts = vec![op.path.clone()];
    if let Some(data) = &op.data {
        strings(data, &mut texts);
    }
    for text in &texts {
        for bulk_id in references(text) {
            if created.contains_key(bulk_id) {
                continue;
            }
            return match defined.get(bulk_id) {
                Some(&by) if by == at => Resolution::Failed(ScimError::Conflict(format!(
                    "bulkId:{bulk_id} names the operation's own resource, which it cannot wait for"
                ))),
                Some(&by) if outcomes[by].is_none() => Resolution::Waiting,
                _ => Resolution::Failed(ScimError::bad(
                    "invalidValue",
                    format!("bulkId:{bulk_id} names no resource a POST of this request created"),
                )),
            };
        }
    }
    let mut op = op.clone();
    op.path = substitute(&op.path, created);
    if let Some(data) = &mut op.data {
        substitute_all(data, created);
    }
    Resolution::Ready(op)
}

/// The resource type and id a bulk operation's path names.
fn target(path: &str) -> Result<(ResourceType, &str, Option<&str>), ScimError> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let (endpoint, id) = match path.split_once('/') {
        Some((endpoint, id)) if !id.is_empty() && !id.contains('/') => (endpoint, Some(id)),
        Some(_) => return Err(ScimError::bad("invalidPath", "no such resource path")),
        None => (path, None),
    };
    let kind = ResourceType::at(endpoint).ok_or_else(|| {
        ScimError::bad(
            "invalidPath",
            "a bulk operation's path is /Users, /Groups, /Users/{id} or /Groups/{id}",
        )
    })?;
    Ok((kind, endpoint, id))
}

/// Runs one operation as its own endpoint would.
async fn perform(state: &AppState, scim: &ScimCaller, op: &Operation) -> Outcome {
    let method = op.method.as_str();
    let location = target(&op.path)
        .ok()
        .and_then(|(_, endpoint, id)| id.map(|id| format!("{}/{endpoint}/{id}", scim.base)));
    match dispatch(state, scim, op).await {
        Ok((status, written)) => Outcome {
            method: method.to_owned(),
            bulk_id: op.bulk_id.clone(),
            location: written
                .as_ref()
                .and_then(Written::location)
                .map(str::to_owned)
                .or(location),
            version: written.map(|w| w.version),
            status,
            response: None,
        },
        Err(error) => op.failed(location, error),
    }
}

async fn dispatch(
    state: &AppState,
    scim: &ScimCaller,
    op: &Operation,
) -> Result<(StatusCode, Option<Written>), ScimError> {
    let (kind, _, id) = target(&op.path)?;
    let precondition = version_precondition(op.version.as_deref());
    let data = op.data.as_ref().unwrap_or(&Value::Null);
    let written = match (op.method, id) {
        (Method::Post, None) => {
            let created = kind.create(state, scim, data).await?;
            return Ok((StatusCode::CREATED, Some(created)));
        }
        (Method::Post, Some(_)) => {
            return Err(ScimError::bad(
                "invalidPath",
                "a POST operation's path names a resource type: /Users or /Groups",
            ));
        }
        (_, None) => {
            return Err(ScimError::bad(
                "invalidPath",
                "PUT, PATCH and DELETE operations name a resource: /Users/{id} or /Groups/{id}",
            ));
        }
        (Method::Put, Some(id)) => {
            kind.change(Change::Replace, state, scim, id, data, precondition)
                .await?
        }
        (Method::Patch, Some(id)) => {
            kind.change(Change::Patch, state, scim, id, data, precondition)
                .await?
        }
        (Method::Delete, Some(id)) => {
            kind.delete(state, scim, id, precondition).await?;
            return Ok((StatusCode::NO_CONTENT, None));
        }
    };
    Ok((StatusCode::OK, Some(written)))
}

/// What one operation came to.
#[derive(Debug, Clone)]
struct Outcome {
    method: String,
    bulk_id: Option<String>,
    location: Option<String>,
    version: Option<i64>,
    status: StatusCode,
    /// The error, for an operation that failed.
    response: Option<Value>,
}

impl Outcome {
    fn failed(
        method: &str,
        bulk_id: Option<String>,
        location: Option<String>,
        error: ScimError,
    ) -> Self {
        let (status, body) = error.into_parts();
        Outcome {
            method: method.to_owned(),
            bulk_id,
            location,
            version: None,
            status,
            response: Some(body),
        }
    }

    /// The id of the resource a successful POST created.
    fn created_id(&self) -> Option<String> {
        let location = self.location.as_deref()?;
        location.rsplit('/').next().map(str::to_owned)
    }

    fn render(&self) -> Value {
        let mut value = json!({ "method": self.method, "status": self.status.as_str() });
        if let Some(bulk_id) = &self.bulk_id {
            value["bulkId"] = json!(bulk_id);
        }
        if let Some(location) = &self.location {
            value["location"] = json!(location);
        }
        if let Some(version) = self.version {
            value["version"] = json!(etag(version));
        }
        if let Some(response) = &self.response {
            value["response"] = response.clone();
        }
        value
    }
}
