//! The native REST API at /v1: the face applications built on Roster use.

mod api_keys;
mod attributes;
mod audit;
mod auth;
mod changes;
mod error;
mod extract;
mod groups;
mod openapi;
mod profile;
mod tenants;
mod transfer;
mod two_factor;
mod users;
mod webhooks;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Membership, PageCursor, PageLimit, PageRequest, Violations};

use super::AppState;

pub use changes::ChangeEventBody;
pub use error::{ApiError, Problem};
use openapi::Conventions;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster native API",
        description = "Tenants, users, groups, memberships and API keys of a Roster directory. \
            Every request carries `Authorization: Bearer <secret>`: the operator credential, or \
            a tenant API key. Errors are RFC 9457 problem documents.",
    ),
    paths(crate::http::oauth::token, crate::http::oauth::revoke),
    security(("bearer" = [])),
    tags(
        (name = "tenants", description = "Customer accounts (operator only)"),
        (name = "users", description = "People in a tenant"),
        (name = "groups", description = "Named sets of users, and their members"),
        (name = "api-keys", description = "Tenant credentials for programs"),
        (name = "attributes", description = "User attributes a tenant declares beyond the standard profile"),
        (name = "auth", description = "Users signing in and out, and their own passwords"),
        (name = "audit", description = "Who did what, when, and from where"),
        (name = "webhooks", description = "Subscriptions that deliver the change feed's events to a URL, signed (Standard Webhooks)"),
        (name = "events", description = "The change feed: every committed change of a tenant's users, groups and memberships, in commit order"),
        (name = "oauth", description = "Access tokens for API keys (OAuth 2.0 client credentials, RFC 7009 revocation)"),
    ),
    components(schemas(Problem))
)]
struct ApiDoc;

/// The /v1 routes, and the OpenAPI document that describes them and the OAuth
/// token endpoints, with `passwords` as the password rules it states.
pub fn router(
    passwords: crate::domain::PasswordPolicy,
) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut document) = routes().split_for_parts();
    // After the routes have added their paths and schemas: the conventions apply
    // to all of them.
    utoipa::Modify::modify(&Conventions { passwords }, &mut document);
    (router, document)
}

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(tenants::get, tenants::rename, tenants::delete))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::groups))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::get, groups::update, groups::delete))
        .routes(routes!(groups::members))
        .routes(routes!(groups::add_member, groups::remove_member))
        .routes(routes!(groups::subgroups))
        .routes(routes!(groups::add_subgroup, groups::remove_subgroup))
        .routes(routes!(groups::parents))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::get, api_keys::revoke))
        .routes(routes!(attributes::list, attributes::declare))
        .routes(routes!(
            attributes::get,
            attributes::change,
            attributes::delete
        ))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::set_password))
        .routes(routes!(auth::unlock))
        .routes(routes!(auth::invite))
        .routes(routes!(auth::accept_invitation))
        .routes(routes!(auth::send_password_reset))
        .routes(routes!(auth::request_password_reset))
        .routes(routes!(auth::reset_password))
        .routes(routes!(two_factor::status))
        .routes(routes!(two_factor::enrol))
        .routes(routes!(two_factor::confirm))
        .routes(routes!(two_factor::regenerate_recovery_codes))
        .routes(routes!(two_factor::disable_own))
        .routes(routes!(two_factor::disable))
        .routes(routes!(audit::list))
        .routes(routes!(changes::list))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::attempts))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(transfer::export))
        .routes(routes!(transfer::import))
}

/// Every request body this face reads, for the property test over bodies.
#[cfg(test)]
pub(crate) fn request_bodies() -> Vec<crate::http::body::BodyCheck> {
    use crate::http::body::check;
    vec![
        ("v1 api key", check::<api_keys::CreateApiKeyBody>),
        ("v1 attribute", check::<attributes::DeclareAttributeBody>),
        (
            "v1 attribute change",
            check::<attributes::ChangeAttributeBody>,
        ),
        ("v1 login", check::<auth::LoginBody>),
        ("v1 password change", check::<auth::PasswordChangeBody>),
        ("v1 password", check::<auth::PasswordBody>),
        ("v1 invitation", check::<auth::AcceptInvitationBody>),
        (
            "v1 password-reset request",
            check::<auth::PasswordResetRequestBody>,
        ),
        ("v1 password reset", check::<auth::ResetPasswordBody>),
        ("v1 group", check::<groups::CreateGroupBody>),
        ("v1 group update", check::<groups::UpdateGroupBody>),
        ("v1 tenant", check::<tenants::TenantNameBody>),
        ("v1 two-factor enrol", check::<two_factor::EnrolBody>),
        ("v1 two-factor code", check::<two_factor::CodeBody>),
        ("v1 user", check::<users::CreateUserBody>),
        ("v1 user update", check::<users::UpdateUserBody>),
        ("v1 webhook", check::<webhooks::CreateWebhookBody>),
        ("v1 webhook update", check::<webhooks::UpdateWebhookBody>),
        ("v1 webhook redelivery", check::<webhooks::RedeliverBody>),
    ]
}

/// A refusal of the HTTP layer as a problem document.
pub fn refuse(refusal: crate::http::face::Refusal) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::from(refusal).into_response()
}

/// Keyset paging parameters shared by every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

impl PageParams {
    /// The page request, or a problem naming the bad parameters.
    fn page(&self) -> Result<PageRequest, ApiError> {
        let mut violations = Violations::new();
        let page = page_request(
            self.limit.as_deref(),
            self.cursor.as_deref(),
            &mut violations,
        );
        violations.finish().map_err(ApiError::Query)?;
        Ok(page)
    }
}

/// Keyset paging of a list of members or groups, and which memberships it means.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembershipParams {
    /// `effective` (the default): memberships at any depth, through groups within
    /// groups; `direct`: only those made directly.
    #[param(value_type = Option<MembershipName>, inline)]
    membership: Option<String>,
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// Which memberships a list means.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Named in the OpenAPI document only: the parameter is read as text.
pub enum MembershipName {
    Direct,
    Effective,
}

impl MembershipParams {
    /// The memberships and the page, or a problem naming the bad parameters.
    fn parse(&self) -> Result<(Membership, PageRequest), ApiError> {
        let mut violations = Violations::new();
        let membership = violations
            .check_opt(
                "membership",
                self.membership.as_deref().map(Membership::parse),
            )
            .unwrap_or_default();
        let page = page_request(
            self.limit.as_deref(),
            self.cursor.as_deref(),
            &mut violations,
        );
        violations.finish().map_err(ApiError::Query)?;
        Ok((membership, page))
    }
}

/// Reads the `limit` and `cursor` parameters, recording what is wrong with them.
fn page_request(
    limit: Option<&str>,
    cursor: Option<&str>,
    violations: &mut Violations,
) -> PageRequest {
    let limit = violations
        .check_opt("limit", limit.map(PageLimit::parse))
        .unwrap_or_default();
    let after = violations.check_opt("cursor", cursor.map(PageCursor::parse));
    PageRequest { limit, after }
}

/// A page of a list: `nextCursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListBody<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to read the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> ListBody<T> {
    fn from_page<U>(page: crate::domain::Page<U>, f: impl FnMut(U) -> T) -> Self {
        let next_cursor = page.next.map(|c| c.encode());
        Self {
            items: page.items.into_iter().map(f).collect(),
            next_cursor,
        }
    }
}

/// Reads a JSON `null`-able field so that absent (`None`), `null` (`Some(None)`) and
/// a value (`Some(Some(v))`) differ, as a partial update needs.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A single resource with its ETag.
fn tagged<T: Serialize>(version: i64, body: T) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::ETAG, extract::etag(version))],
        axum::Json(body),
    )
}

/// A resource just created: 201 with its Location and ETag.
fn created<T: Serialize>(
    location: String,
    version: i64,
    body: T,
) -> impl axum::response::IntoResponse {
    (
        axum::http::StatusCode::CREATED,
        [
            (axum::http::header::LOCATION, location),
            (axum::http::header::ETAG, extract::etag(version)),
        ],
        axum::Json(body),
    )
}

/// Reads a field of a partial update that may not be null.
fn patch_required<T>(
    violations: &mut Violations,
    field: &str,
    value: Option<Option<String>>,
    parse: impl FnOnce(String) -> Result<T, crate::domain::Invalid>,
) -> Option<T> {
    match value {
        None => None,
        Some(None) => {
            violations.add(field, "must not be null");
            None
        }
        Some(Some(value)) => violations.check(field, parse(value)),
    }
}

/// Reads a field of a partial update that `null` clears.
fn patch_nullable<T>(
    violations: &mut Violations,
    field: &str,
    value: Option<Option<String>>,
    parse: impl FnOnce(String) -> Result<T, crate::domain::Invalid>,
) -> crate::domain::Patch<T> {
    use crate::domain::Patch;
    match value {
        None => Patch::Keep,
        Some(None) => Patch::Clear,
        Some(Some(value)) => violations
            .check(field, parse(value))
            .map_or(Patch::Keep, Patch::Set),
    }
}

/// The problem for a body whose fields were refused.
fn invalid(violations: Violations) -> ApiError {
    ApiError::Service(crate::service::ServiceError::Invalid(violations.into_vec()))
}

/// A keyset page of the users matching `filter`, in id (creation) order. Members of
/// a `group` that does not exist are not an empty list: the group is looked up first.
async fn user_page(
    state: &AppState,
    caller: &crate::auth::Caller,
    tenant: crate::domain::TenantId,
    filter: crate::domain::Filter<crate::domain::UserAttr>,
    group: Option<crate::domain::GroupId>,
    page: PageRequest,
) -> Result<crate::domain::Page<crate::domain::User>, ApiError> {
    if let Some(group) = group {
        state.directory.get_group(caller, tenant, group).await?;
    }
    let window = crate::domain::Window::After {
        after: page.after,
        limit: page.limit,
    };
    let query = crate::domain::UserQuery::page(filter, window);
    let list = state.directory.users(caller, tenant, &query).await?;
    Ok(crate::domain::Page {
        items: list.users.into_iter().map(|u| u.user).collect(),
        next: list.next,
    })
}

/// Reads a record of Roster's export format (`crate::transfer::roster`) as the
/// endpoint that creates such an object reads its body, once the fields only an
/// export writes (`exported`) are set aside: the same names, rules and refusals.
pub(crate) fn read_exported<B: serde::de::DeserializeOwned, T>(
    mut object: serde_json::Map<String, serde_json::Value>,
    exported: &[&str],
    parse: impl FnOnce(B) -> Result<T, ApiError>,
) -> Result<T, Vec<crate::domain::FieldViolation>> {
    use crate::domain::FieldViolation;
    let one = |field: &str, reason: String| {
        vec![FieldViolation {
            field: field.to_owned(),
            reason,
        }]
    };
    for field in exported {
        object.remove(*field);
    }
    let bytes = serde_json::to_vec(&object).map_err(|e| one("", e.to_string()))?;
    let body: B = crate::http::body::parse_json(&bytes).map_err(|error| match error {
        crate::http::body::BodyError::Field { field, reason } => one(&field, reason),
        other => one("", format!("{other:?}")),
    })?;
    parse(body).map_err(|error| match error {
        ApiError::Service(crate::service::ServiceError::Invalid(violations)) => violations,
        other => one("", other.to_string()),
    })
}

/// The lines of Roster's export format are the /v1 shapes of the objects they hold
/// (`crate::transfer::roster`), and are read back as /v1 reads its bodies.
pub(crate) mod records {
    pub(crate) use super::api_keys::exported as api_key;
    pub(crate) use super::attributes::{exported as attribute, read_exported as read_attribute};
    pub(crate) use super::groups::{exported as group, read_exported as read_group};
    pub(crate) use super::users::{exported as user, read_exported as read_user};
}
