//! SCIM 2.0 (RFC 7643, RFC 7644) at /scim/v2: identity providers provision the
//! tenant's users and groups. The tenant is the credential's own. See docs/scim.md.

mod bulk;
mod custom;
mod discovery;
mod error;
mod filter;
mod groups;
mod patch;
mod resources;
mod schemas;
mod search;
mod shape;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::domain::TenantId;
use crate::http::AppState;
use crate::http::credentials::{authenticate, bearer_token};
use crate::service::{Precondition, ServiceError};

pub use error::ScimError;
use resources::{Groups, Users, create, delete, list, patch, read, replace, search};
pub(crate) use users::new_user;

const BASE: &str = "/scim/v2";

/// Every SCIM route. Unknown paths and methods under /scim/v2 reach the
/// application's fallbacks, which answer them through [`refuse`].
pub fn router(limit: std::time::Duration) -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Schemas/{id}", get(discovery::schema))
        .route("/scim/v2/.search", post(search::search_all))
        .route(
            "/scim/v2/Bulk",
            post(bulk::bulk).layer(DefaultBodyLimit::max(bulk::MAX_PAYLOAD_BYTES)),
        )
        .route("/scim/v2/Users", get(list::<Users>).post(create::<Users>))
        .route("/scim/v2/Users/.search", post(search::<Users>))
        .route(
            "/scim/v2/Users/{id}",
            get(read::<Users>)
                .put(replace::<Users>)
                .patch(patch::<Users>)
                .delete(delete::<Users>),
        )
        .route(
            "/scim/v2/Groups",
            get(list::<Groups>).post(create::<Groups>),
        )
        .route("/scim/v2/Groups/.search", post(search::<Groups>))
        .route(
            "/scim/v2/Groups/{id}",
            get(read::<Groups>)
                .put(replace::<Groups>)
                .patch(patch::<Groups>)
                .delete(delete::<Groups>),
        )
        .layer(axum::middleware::from_fn_with_state(
            limit,
            crate::http::within_limit::<ScimError>,
        ))
}

/// A refusal of the HTTP layer as a SCIM error.
pub fn refuse(refusal: crate::http::face::Refusal) -> Response {
    ScimError::Refused(refusal).into_response()
}

/// A JSON reply as `application/scim+json`.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    response
}

/// A resource reply with its ETag header.
fn resource(status: StatusCode, body: &Value, version: i64) -> Response {
    let mut response = scim_json(status, body);
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// A resource as a write left it: its representation and version.
pub(super) struct Written {
    body: Value,
    version: i64,
}

impl Written {
    /// The resource where it lives: its `meta.location`.
    fn location(&self) -> Option<&str> {
        self.body["meta"]["location"].as_str()
    }

    /// The reply to a write: the resource shaped by `attributes` or
    /// `excludedAttributes` (RFC 7644 §3.9), its ETag, and for 201 its Location.
    fn reply(self, status: StatusCode, params: &ListParams) -> Response {
        let location = self
            .location()
            .filter(|_| status == StatusCode::CREATED)
            .and_then(|l| HeaderValue::from_str(l).ok());
        let mut response = resource(status, &params.shape(self.body), self.version);
        if let Some(location) = location {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

/// The weak ETag of a resource at `version`: `W/"<version>"`, also `meta.version`.
fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Adds the versions a list of entity tags (weak or strong) names to `versions`;
/// `false` when the list is `*`.
fn read_tags(list: &str, versions: &mut Vec<i64>) -> bool {
    for tag in list.split(',').map(str::trim) {
        if tag == "*" {
            return false;
        }
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        if let Some(version) = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<i64>().ok())
        {
            versions.push(version);
        }
    }
    true
}

/// The versions named by a header of entity tags (weak or strong), or `None` for `*`.
fn tagged_versions(headers: &HeaderMap, name: header::HeaderName) -> Option<Option<Vec<i64>>> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let mut versions = Vec::new();
    for value in values {
        let Ok(value) = value.to_str() else { continue };
        if !read_tags(value, &mut versions) {
            return Some(None);
        }
    }
    Some(Some(versions))
}

/// The precondition a list of entity tags names, as If-Match does.
fn precondition(tags: Option<Option<Vec<i64>>>) -> Precondition {
    match tags {
        None => Precondition::None,
        Some(None) => Precondition::Exists,
        Some(Some(versions)) => Precondition::Versions(versions),
    }
}

/// If-Match as a precondition on the resource's version.
fn if_match(headers: &HeaderMap) -> Precondition {
    precondition(tagged_versions(headers, header::IF_MATCH))
}

/// A bulk operation's `version` as a precondition, as If-Match would be.
fn version_precondition(version: Option<&str>) -> Precondition {
    precondition(version.map(|list| {
        let mut versions = Vec::new();
        read_tags(list, &mut versions).then_some(versions)
    }))
}

/// Whether If-None-Match names `version` (or `*`): the caller's copy is current.
fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    match tagged_versions(headers, header::IF_NONE_MATCH) {
        None => false,
        Some(None) => true,
        Some(Some(versions)) => versions.contains(&version),
    }
}

/// 304 with the ETag, for a GET whose If-None-Match is current.
fn not_modified_response(version: i64) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// The absolute base URL of this face, from the request's Host.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    match host {
        Some(host) => format!("{scheme}://{host}{BASE}"),
        None => BASE.to_owned(),
    }
}

/// The authenticated caller and its tenant, from `Authorization: Bearer <token>`.
pub struct ScimCaller {
    pub caller: Caller,
    pub tenant: TenantId,
    /// The base URL that `meta.location` and `$ref` start with.
    pub base: String,
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let token = bearer_token(&parts.headers).map(str::to_owned);
        let caller = authenticate(&state.directory, parts, token.as_deref()).await?;
        let tenant = caller.principal.tenant().ok_or(ServiceError::Forbidden(
            "SCIM acts within one tenant: use a tenant API key or access token",
        ))?;
        Ok(ScimCaller {
            caller,
            tenant,
            base: base_url(&parts.headers),
        })
    }
}

/// `filter`, `startIndex`, `count`, `attributes` and `excludedAttributes` of a list
/// request (RFC 7644 §3.4.2); a read of one resource takes the last two.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

impl ListParams {
    /// The order `sortBy` and `sortOrder` ask for, with `resolve` naming the attribute.
    fn sort<A>(
        &self,
        resolve: impl Fn(&str) -> Result<Option<A>, filter::FilterError>,
    ) -> Result<Option<crate::domain::Sort<A>>, ScimError> {
        let descending = match self.sort_order.as_deref().map(str::to_ascii_lowercase) {
            None => false,
            Some(order) if order == "ascending" => false,
            Some(order) if order == "descending" => true,
            Some(_) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    "sortOrder must be ascending or descending",
                ));
            }
        };
        let Some(text) = self.sort_by.as_deref() else {
            return Ok(None);
        };
        let attr = resolve(text).map_err(|e| ScimError::bad("invalidValue", e.0))?;
        Ok(attr.map(|attr| crate::domain::Sort { attr, descending }))
    }

    /// The resource as the request's `attributes` or `excludedAttributes` shape it.
    fn shape(&self, resource: Value) -> Value {
        shape::shape(
            resource,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }
}

/// The 1-based start index and the count, both clamped as RFC 7644 §3.4.2.4 asks:
/// a start below 1 reads as 1, a negative count as 0, a count over the maximum as it.
fn window(params: &ListParams) -> Result<(u64, u32), ScimError> {
    let start = match params.start_index.as_deref() {
        None => 1,
        Some(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| ScimError::bad("invalidValue", "startIndex must be an integer"))?
            .max(1),
    };
    let count = match params.count.as_deref() {
        None => i64::from(schemas::MAX_RESULTS),
        Some(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| ScimError::bad("invalidValue", "count must be an integer"))?
            .clamp(0, i64::from(schemas::MAX_RESULTS)),
    };
    Ok((start as u64, count as u32))
}

type ListQuery = Query<ListParams>;

/// Reads the query string, answering a SCIM error when it is malformed.
fn list_params(
    query: Result<ListQuery, axum::extract::rejection::QueryRejection>,
) -> Result<ListParams, ScimError> {
    // Every parameter is read as text, so the one failure left is a repeated one.
    query.map(|Query(params)| params).map_err(|rejection| {
        let text = rejection.body_text();
        let detail = match text.split('`').nth(1) {
            Some(name) if text.contains("duplicate field") => {
                format!("the query parameter {name} is given more than once")
            }
            _ => "the query string could not be read".to_owned(),
        };
        ScimError::bad("invalidValue", detail)
    })
}

/// A request's JSON body (`application/scim+json` or `application/json`).
async fn scim_body(request: axum::extract::Request) -> Result<Value, ScimError> {
    Ok(crate::http::body::read_json::<Value>(request).await?)
}

/// The parameters of a SearchRequest body (RFC 7644 §3.4.3): `filter`, and
/// `startIndex` and `count` as numbers (or numeric strings).
fn search_params(body: &Value) -> Result<ListParams, ScimError> {
    let declared = body["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s == schemas::SEARCH_REQUEST));
    if !declared {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!(
                "a search body declares the schema {}",
                schemas::SEARCH_REQUEST
            ),
        ));
    }
    let number = |name: &str| match &body[name] {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ScimError::bad(
            "invalidValue",
            format!("{name} must be an integer"),
        )),
    };
    let filter = match &body["filter"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return Err(ScimError::bad("invalidFilter", "filter must be a string")),
    };
    // attributes and excludedAttributes are arrays of names here, or one string.
    let names = |name: &str| match &body[name] {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    Ok(ListParams {
        filter,
        start_index: number("startIndex")?,
        count: number("count")?,
        attributes: names("attributes"),
        excluded_attributes: names("excludedAttributes"),
        sort_by: body["sortBy"].as_str().map(str::to_owned),
        sort_order: body["sortOrder"].as_str().map(str::to_owned),
    })
}

/// One window of a list of one resource type, each resource shaped as asked, and
/// how many match: `filter` and `sort` read the request's, `read` fetches the
/// window (offset and count), `render` draws each resource.
async fn listing<A, T, F>(
    params: &ListParams,
    filter: impl Fn(&str) -> Result<crate::domain::Filter<A>, filter::FilterError>,
    sort: fn(&str) -> Result<Option<A>, filter::FilterError>,
    read: impl FnOnce(crate::domain::Filter<A>, Option<crate::domain::Sort<A>>, u64, u32) -> F,
    render: impl Fn(&T) -> Value,
) -> Result<(i64, Vec<Value>), ScimError>
where
    F: std::future::Future<Output = crate::service::ServiceResult<crate::service::Listing<T>>>,
{
    let filter = match params.filter.as_deref() {
        Some(text) => filter(text)?,
        None => crate::domain::Filter::Constant(true),
    };
    let (start, count) = window(params)?;
    let sort = params.sort(sort)?;
    let listing = read(filter, sort, start - 1, count).await?;
    let resources = listing
        .items
        .iter()
        .map(|item| params.shape(render(item)))
        .collect();
    Ok((listing.total, resources))
}

/// A list response.
fn list_response(total: i64, start: u64, resources: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        &serde_json::json!({
            "schemas": [schemas::LIST],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// 400 `invalidValue` naming the attribute.
fn invalid(field: &str, reason: impl std::fmt::Display) -> ScimError {
    ScimError::bad("invalidValue", format!("{field}: {reason}"))
}

/// An attribute by name in any letter case (RFC 7643 §2.1).
fn attribute<'a>(object: &'a Value, name: &str) -> &'a Value {
    object
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map_or(&Value::Null, |(_, v)| v)
}

/// The id in a resource path; one that is no UUID names nothing.
fn parse_id<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, crate::domain::Invalid>,
    resource: crate::service::Resource,
) -> Result<T, ScimError> {
    parse(text).map_err(|_| ScimError::Service(ServiceError::NotFound(resource)))
}
