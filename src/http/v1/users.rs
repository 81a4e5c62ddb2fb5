use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{
    AttributeDefinition, AttributeWrite, Company, CountryCode, Email, ExternalId, Filter, GroupId,
    GroupsRelated, LoginMetadata, Membership, NewUser, NewUserFields, PasswordPolicy, PersonName,
    Phone, PrefixRange, Role, Status, TenantId, Timestamp, User, UserAttr, UserId, UserName,
    UserPatch, Violations,
};
use crate::http::AppState;
use crate::service::ServiceError;

use super::error::{ApiError, Problem};
use super::extract::{Auth, IfMatch, Json, Path, Query};
use super::groups::GroupBody;
use super::profile::{ProfileBody, ProfileUpdate};
use super::{
    ListBody, MembershipParams, created, nullable, page_request, patch_nullable, patch_required,
    tagged,
};

/// A user as the native API shows it. Never carries a password or its hash.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    id: UserId,
    tenant_id: TenantId,
    email: String,
    /// The name an identity provider knows the user by (SCIM `userName`): the email
    /// unless one was given.
    user_name: String,
    first_name: String,
    last_name: String,
    phone: Option<String>,
    company: Option<String>,
    /// ISO 3166-1 alpha-2.
    country_code: Option<String>,
    role: Role,
    status: Status,
    /// The identifier a provisioning client keeps for this user.
    external_id: Option<String>,
    /// The rest of the SCIM profile. `phone`, `company` and `countryCode` are its
    /// work phone number, organization and work address's country.
    profile: ProfileBody,
    /// The user's values of the attributes its tenant declared, by declared name: an
    /// array for a multi-valued one. Those declared `writeOnly` or returned `never`
    /// are left out.
    #[schema(value_type = Object)]
    attributes: serde_json::Map<String, serde_json::Value>,
    /// The user's default group; it is one of its groups.
    default_group_id: Option<GroupId>,
    /// Whether a password is set.
    has_password: bool,
    two_factor_enabled: bool,
    login: LoginMetadataBody,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// What the directory records about a user's sign-ins.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginMetadataBody {
    successful_logins: i64,
    failed_logins: i64,
    last_successful_login_at: Option<Timestamp>,
    last_failed_login_at: Option<Timestamp>,
    last_action_at: Option<Timestamp>,
    password_changed_at: Option<Timestamp>,
}

impl From<LoginMetadata> for LoginMetadataBody {
    fn from(login: LoginMetadata) -> Self {
        Self {
            successful_logins: login.successful_logins,
            failed_logins: login.failed_logins,
            last_successful_login_at: login.last_successful_login_at,
            last_failed_login_at: login.last_failed_login_at,
            last_action_at: login.last_action_at,
            password_changed_at: login.password_changed_at,
        }
    }
}

impl UserBody {
    /// The user as shown, with the values of the attributes `declared` in its tenant.
    pub fn of(user: User, declared: &[AttributeDefinition]) -> Self {
        let attributes = declared
            .iter()
            .filter(|a| a.is_read_back())
            .filter_map(|a| {
                let values = user.attributes.get(&a.key())?;
                Some((a.name.clone(), a.values_to_json(values)?))
            })
            .collect();
        Self {
            attributes,
            id: user.id,
            tenant_id: user.tenant_id,
            user_name: user.user_name().to_owned(),
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            phone: user.profile.work_phone().map(str::to_owned),
            company: user.profile.enterprise.organization.clone(),
            country_code: user.profile.work_country().map(str::to_owned),
            role: user.role,
            status: user.status,
            external_id: user.external_id,
            profile: user.profile.into(),
            default_group_id: user.default_group_id,
            has_password: user.has_password,
            two_factor_enabled: user.two_factor_enabled,
            login: user.login.into(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// A user to create. `role` defaults to `member`, `status` to `active`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserBody {
    /// Unique in the tenant regardless of letter case.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// The name an identity provider knows the user by (SCIM `userName`); defaults
    /// to the email, and then follows it. Unique in the tenant regardless of letter
    /// case, also against the emails of users without one of their own.
    #[schema(max_length = 255)]
    user_name: Option<String>,
    #[schema(max_length = 200)]
    first_name: String,
    #[schema(max_length = 200)]
    last_name: String,
    phone: Option<String>,
    company: Option<String>,
    country_code: Option<String>,
    #[schema(value_type = Option<Role>)]
    role: Option<String>,
    #[schema(value_type = Option<Status>)]
    status: Option<String>,
    external_id: Option<String>,
    /// 8 to 256 characters; stored as an Argon2id hash, never shown.
    #[schema(format = Password, write_only)]
    password: Option<String>,
    /// A hash from another system instead of `password`: an Argon2 PHC string
    /// (`$argon2id$v=19$…`), a bcrypt hash (`$2a$`, `$2b$`, `$2y$`), or PBKDF2 with
    /// HMAC-SHA-256, -SHA-512 or -SHA-1 in PHC form (`$pbkdf2-sha256$i=27500,l=64$…`)
    /// or passlib's (`$pbkdf2-sha256$29000$…`). Verified as it is; re-hashed to
    /// Argon2id on the next successful sign-in. Bounds: docs/security.md.
    #[schema(write_only)]
    password_hash: Option<String>,
    /// The SCIM profile; `phone`, `company` and `countryCode`, when given, set its
    /// work phone number, organization and work address's country. Without `role`,
    /// the role follows `profile.roles`.
    profile: Option<ProfileUpdate>,
    /// Values of the attributes the tenant declared, by name (any letter case): an
    /// array for a multi-valued one. Every required one must be given.
    #[schema(value_type = Option<Object>)]
    attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The declared attributes a body names, to merge into the user's.
fn attribute_write(
    attributes: Option<serde_json::Map<String, serde_json::Value>>,
) -> AttributeWrite {
    AttributeWrite::Merge(attributes.unwrap_or_default().into_iter().collect())
}

/// The attributes the tenant declares, to show users with.
async fn declared(
    state: &AppState,
    caller: &crate::auth::Caller,
    tenant: TenantId,
) -> Result<Vec<AttributeDefinition>, ApiError> {
    Ok(state.directory.attributes(caller, tenant).await?)
}

impl CreateUserBody {
    fn parse(self, policy: &PasswordPolicy) -> Result<NewUser, ApiError> {
        let mut found = Violations::new();
        let profile = self
            .profile
            .map(|p| p.into_profile(&mut found))
            .unwrap_or_default();
        let fields = NewUserFields {
            email: self.email,
            user_name: self.user_name,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone,
            company: self.company,
            country_code: self.country_code,
            role: self.role,
            status: self.status,
            external_id: self.external_id,
            password: self.password,
            password_hash: self.password_hash,
            profile,
            attributes: attribute_write(self.attributes),
        };
        Ok(fields.parse(policy, found).map_err(ServiceError::Invalid)?)
    }
}

/// A partial change: only the fields present change; `null` clears an optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, required = false, format = Email)]
    email: Option<Option<String>>,
    /// `null` makes the userName the email again.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 255)]
    user_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, required = false)]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, required = false)]
    last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    company: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    country_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Role, required = false)]
    role: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Status, required = false)]
    status: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    external_id: Option<Option<String>>,
    /// Setting a default group makes the user a member of it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid, nullable)]
    default_group_id: Option<Option<String>>,
    /// Changes to the SCIM profile: the attributes named change.
    profile: Option<ProfileUpdate>,
    /// Changes to the values of the attributes the tenant declared: those named
    /// change, `null` clears one.
    #[schema(value_type = Option<Object>)]
    attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

impl UpdateUserBody {
    fn parse(self) -> Result<UserPatch, ApiError> {
        let mut v = Violations::new();
        let patch = UserPatch {
            email: patch_required(&mut v, "email", self.email, Email::parse),
            user_name: patch_nullable(&mut v, "userName", self.user_name, UserName::parse),
            first_name: patch_required(&mut v, "firstName", self.first_name, PersonName::parse),
            last_name: patch_required(&mut v, "lastName", self.last_name, PersonName::parse),
            profile: None,
            profile_patch: self
                .profile
                .map(|p| p.into_patch(&mut v))
                .unwrap_or_default(),
            phone: patch_nullable(&mut v, "phone", self.phone, Phone::parse),
            company: patch_nullable(&mut v, "company", self.company, Company::parse),
            country_code: patch_nullable(
                &mut v,
                "countryCode",
                self.country_code,
                CountryCode::parse,
            ),
            role: patch_required(&mut v, "role", self.role, |r| r.parse()),
            status: patch_required(&mut v, "status", self.status, |s| s.parse()),
            external_id: patch_nullable(&mut v, "externalId", self.external_id, ExternalId::parse),
            default_group_id: patch_nullable(
                &mut v,
                "defaultGroupId",
                self.default_group_id,
                |g| GroupId::parse(&g),
            ),
            attributes: attribute_write(self.attributes),
        };
        v.finish().map_err(ServiceError::Invalid)?;
        Ok(patch)
    }
}

/// Which users to list; every filter given must hold.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListUsersParams {
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Exactly this email, in any letter case.
    email: Option<String>,
    /// Email, first name or last name starts with this, in any letter case.
    q: Option<String>,
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    #[param(value_type = Option<Role>)]
    role: Option<String>,
    /// Members of this group.
    #[param(value_type = Option<String>, format = Uuid)]
    group_id: Option<String>,
}

impl ListUsersParams {
    /// The conditions (every one given must hold), the group named, and the page.
    fn parse(
        &self,
    ) -> Result<
        (
            Filter<UserAttr>,
            Option<GroupId>,
            crate::domain::PageRequest,
        ),
        ApiError,
    > {
        let mut v = Violations::new();
        let page = page_request(self.limit.as_deref(), self.cursor.as_deref(), &mut v);
        let email = v.check_opt("email", self.email.clone().map(Email::parse));
        let q = v.check_opt(
            "q",
            (self.q.as_deref()).map(|q| PrefixRange::parse(q).map(|_| q)),
        );
        let status: Option<Status> = v.check_opt("status", self.status.as_deref().map(str::parse));
        let role: Option<Role> = v.check_opt("role", self.role.as_deref().map(str::parse));
        let group = v.check_opt("groupId", self.group_id.as_deref().map(GroupId::parse));
        v.finish().map_err(ApiError::Query)?;
        let filter = Filter::all(
            [
                email.map(|e| Filter::user_eq(UserAttr::Email, e.as_str())),
                q.map(Filter::name_or_email_starts_with),
                status.map(|s| Filter::user_eq(UserAttr::Status, s.as_str())),
                role.map(|r| Filter::user_eq(UserAttr::Role, r.as_str())),
                group.map(|g| Filter::member_of(g, Membership::Effective)),
            ]
            .into_iter()
            .flatten(),
        );
        Ok((filter, group, page))
    }
}

/// List a tenant's users, in creation order, filtered and paged.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/users", tag = "users", operation_id = "listUsers",
    params(("tenantId" = TenantId, Path), ListUsersParams),
    responses(
        (status = 200, body = ListBody<UserBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Query(params): Query<ListUsersParams>,
) -> Result<axum::Json<ListBody<UserBody>>, ApiError> {
    let (filter, group, page) = params.parse()?;
    let users = super::user_page(&state, &caller, tenant, filter, group, page).await?;
    let declared = declared(&state, &caller, tenant).await?;
    Ok(axum::Json(ListBody::from_page(users, |u| {
        UserBody::of(u, &declared)
    })))
}

/// Create a user.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/users", tag = "users", operation_id = "createUser",
    params(("tenantId" = TenantId, Path)),
    request_body = CreateUserBody,
    responses(
        (status = 201, body = UserBody, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Json(body): Json<CreateUserBody>,
) -> Result<impl IntoResponse, ApiError> {
    let user = state
        .directory
        .create_user(
            &caller,
            tenant,
            body.parse(state.directory.password_policy())?,
        )
        .await?;
    let location = format!("/v1/tenants/{tenant}/users/{}", user.id);
    let declared = declared(&state, &caller, tenant).await?;
    Ok(created(
        location,
        user.version,
        UserBody::of(user, &declared),
    ))
}

/// Read a user.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/users/{userId}", tag = "users", operation_id = "getUser",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    responses(
        (status = 200, body = UserBody, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
) -> Result<impl IntoResponse, ApiError> {
    let user = state.directory.get_user(&caller, tenant, id).await?;
    let declared = declared(&state, &caller, tenant).await?;
    Ok(tagged(user.version, UserBody::of(user, &declared)))
}

/// Change the fields the body names (JSON merge patch).
#[utoipa::path(
    patch, path = "/v1/tenants/{tenantId}/users/{userId}", tag = "users", operation_id = "updateUser",
    params(
        ("tenantId" = TenantId, Path), ("userId" = UserId, Path),
        ("If-Match" = Option<String>, Header, description = "Apply only if the user's ETag is this"),
    ),
    request_body(content = UpdateUserBody, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = UserBody, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
    IfMatch(precondition): IfMatch,
    Json(body): Json<UpdateUserBody>,
) -> Result<impl IntoResponse, ApiError> {
    let user = state
        .directory
        .update_user(&caller, tenant, id, body.parse()?, precondition)
        .await?;
    let declared = declared(&state, &caller, tenant).await?;
    Ok(tagged(user.version, UserBody::of(user, &declared)))
}

/// Delete a user and its memberships.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenantId}/users/{userId}", tag = "users", operation_id = "deleteUser",
    params(
        ("tenantId" = TenantId, Path), ("userId" = UserId, Path),
        ("If-Match" = Option<String>, Header, description = "Delete only if the user's ETag is this"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
    IfMatch(precondition): IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .delete_user(&caller, tenant, id, precondition)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the groups a user belongs to, in creation order: by default every group it
/// is in at any depth (through groups within groups); with `membership=direct`,
/// only those it was made a member of.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/users/{userId}/groups", tag = "users", operation_id = "listUserGroups",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path), MembershipParams),
    responses(
        (status = 200, body = ListBody<GroupBody>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn groups(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((tenant, id)): Path<(TenantId, UserId)>,
    Query(params): Query<MembershipParams>,
) -> Result<axum::Json<ListBody<GroupBody>>, ApiError> {
    super::groups::related(&state, &caller, tenant, &params, |m| {
        GroupsRelated::OfUser(id, m)
    })
    .await
}

/// The fields of a user line of Roster's export that creating a user does not take.
const EXPORTED_USER_FIELDS: &[&str] = &[
    "object",
    "id",
    "tenantId",
    "groups",
    "defaultGroup",
    "defaultGroupId",
    "hasPassword",
    "twoFactorEnabled",
    "login",
    "createdAt",
    "updatedAt",
];

/// A user line of Roster's export: the user as /v1 shows it, with every declared
/// attribute's values (also those never read back), and its password hash when
/// given.
pub(crate) fn exported(
    user: User,
    declared: &[AttributeDefinition],
    password_hash: Option<String>,
) -> serde_json::Value {
    let attributes: serde_json::Map<String, serde_json::Value> = declared
        .iter()
        .filter_map(|a| {
            let values = user.attributes.get(&a.key())?;
            Some((a.name.clone(), a.values_to_json(values)?))
        })
        .collect();
    let mut line = serde_json::to_value(UserBody::of(user, declared)).unwrap_or_default();
    line["attributes"] = serde_json::Value::Object(attributes);
    // The manager as an update names it, so that the line reads back as written.
    if let Some(profile) = line["profile"].as_object_mut() {
        let manager = profile.remove("manager").unwrap_or_default();
        profile.insert("managerId".into(), manager["id"].clone());
    }
    if let Some(hash) = password_hash {
        line["passwordHash"] = serde_json::Value::String(hash);
    }
    line
}

/// Reads a user line of Roster's export as `POST …/users` reads its body.
pub(crate) fn read_exported(
    object: serde_json::Map<String, serde_json::Value>,
    policy: &PasswordPolicy,
) -> Result<NewUser, Vec<crate::domain::FieldViolation>> {
    super::read_exported(object, EXPORTED_USER_FIELDS, |body: CreateUserBody| {
        body.parse(policy)
    })
}
