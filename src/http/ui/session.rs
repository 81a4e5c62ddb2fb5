//! The console's cookies and the checks every request passes.
//!
//! - `roster_session` holds only a session's random secret (the database keeps its
//!   hash): HttpOnly, `SameSite=Lax`, `Secure` when the client came over TLS through
//!   a trusted proxy, path `/ui`.
//! - `roster_form` holds a random value for the forms shown before sign-in.
//! - The CSRF token of a page is derived from whichever of the two the browser holds
//!   (the session's when signed in): a page from another site can neither read the
//!   cookie nor compute the token. Every request that is not GET or HEAD must carry
//!   it, as the form field `csrf` or the header `X-CSRF-Token` (htmx sends the
//!   header), or it is refused before any handler runs.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::auth::{Caller, Principal};
use crate::domain::{Role, TenantId, UserId};
use crate::http::AppState;
use crate::http::credentials::{client_info, over_tls};

use super::UiError;

pub(super) const SESSION_COOKIE: &str = "roster_session";
const FORM_COOKIE: &str = "roster_form";
const CSRF_FIELD: &str = "csrf";
const CSRF_HEADER: &str = "x-csrf-token";
/// The largest console form read (a user's profile is far smaller).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The CSRF token bound to a cookie's value.
fn csrf_of(cookie_value: &str) -> String {
    let digest = Sha256::digest(format!("roster-csrf:{cookie_value}").as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// Compares two tokens in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// The CSRF token the browser's cookies call for, if it holds one.
fn expected_csrf(jar: &CookieJar) -> Option<String> {
    jar.get(SESSION_COOKIE)
        .or_else(|| jar.get(FORM_COOKIE))
        .map(|cookie| csrf_of(cookie.value()))
}

/// Middleware: refuses every state-changing console request whose CSRF token is
/// missing or does not match the browser's cookie (403, nothing done).
pub(super) async fn check_csrf(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Some(expected) = expected_csrf(&CookieJar::from_headers(&parts.headers)) else {
        return UiError::Csrf.into_response();
    };
    let header_token = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return UiError::Refused(crate::http::face::Refusal::BadQuery {
            parameter: None,
            reason: format!("a console form is at most {MAX_FORM_BYTES} bytes"),
        })
        .into_response();
    };
    let token = header_token.or_else(|| {
        form_urlencoded_pairs(&bytes)
            .into_iter()
            .find(|(name, _)| name == CSRF_FIELD)
            .map(|(_, value)| value)
    });
    if !token.is_some_and(|token| same_token(&token, &expected)) {
        return UiError::Csrf.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn form_urlencoded_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default()
}

/// The tenant a console path is under (`/ui/t/{tenant}/…`).
fn tenant_of_path(path: &str) -> Option<TenantId> {
    let rest = path.strip_prefix("/ui/t/")?;
    let id = rest.split('/').next()?;
    TenantId::parse(id).ok()
}

/// A signed-in console request: who it acts as, and what its pages need.
#[derive(Debug, Clone)]
pub struct Console {
    pub caller: Caller,
    pub csrf: String,
    pub session_id: uuid::Uuid,
}

impl Console {
    /// The signed-in user, when it is one (not the operator).
    pub fn user(&self) -> Option<(TenantId, UserId, Role)> {
        match self.caller.principal {
            Principal::User {
                tenant_id,
                user_id,
                role,
            } => Some((tenant_id, user_id, role)),
            _ => None,
        }
    }

    pub fn is_operator(&self) -> bool {
        self.caller.principal.is_operator()
    }

    /// Whether the administration pages of `tenant` are open to this session.
    pub fn administers(&self, tenant: TenantId) -> bool {
        match self.caller.principal {
            Principal::Operator => true,
            Principal::User {
                tenant_id, role, ..
            } => tenant_id == tenant && role == Role::Admin,
            _ => false,
        }
    }

    /// Refuses a session that does not administer `tenant`: a member sees its own
    /// account only (403), another tenant's session finds nothing (404).
    pub fn require_admin(&self, tenant: TenantId) -> Result<(), UiError> {
        match self.user() {
            Some((tenant_id, ..)) if tenant_id != tenant => Err(UiError::Service(
                crate::service::ServiceError::NotFound(crate::service::Resource::Tenant),
            )),
            _ if self.administers(tenant) => Ok(()),
            _ => Err(UiError::Service(crate::service::ServiceError::Forbidden(
                "only an administrator of this tenant opens this page",
            ))),
        }
    }

    /// Refuses a session that is not a user of `tenant` (the account pages).
    pub fn require_user_of(&self, tenant: TenantId) -> Result<UserId, UiError> {
        match self.user() {
            Some((tenant_id, user_id, _)) if tenant_id == tenant => Ok(user_id),
            Some(_) => Err(UiError::Service(crate::service::ServiceError::NotFound(
                crate::service::Resource::Tenant,
            ))),
            None => Err(UiError::SignIn(Some(tenant))),
        }
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = UiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let sign_in = UiError::SignIn(tenant_of_path(parts.uri.path()));
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(secret) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Err(sign_in);
        };
        let session = match state.directory.session(&secret).await {
            Ok(session) => session,
            Err(crate::service::ServiceError::Unauthorized) => return Err(sign_in),
            Err(other) => return Err(other.into()),
        };
        Ok(Console {
            caller: Caller {
                principal: session.principal,
                client: client_info(parts),
            },
            csrf: csrf_of(&secret),
            session_id: session.id,
        })
    }
}

/// A console request as it comes, signed in or not: the CSRF token its forms carry
/// (making the form cookie when the browser has neither cookie), where it came
/// from, and the pending sign-in's secret when there is one.
#[derive(Debug)]
pub struct Visitor {
    pub csrf: String,
    pub client: crate::domain::ClientInfo,
    pub session_secret: Option<String>,
    set_form_cookie: Option<String>,
    tls: bool,
}

impl Visitor {
    /// The cookie that carries a new session, replacing any earlier one.
    pub fn session_cookie(&self, secret: &str) -> HeaderValue {
        cookie_header(SESSION_COOKIE, secret, self.tls)
    }

    /// Ends the session cookie in the browser.
    pub fn expired_session_cookie(&self) -> HeaderValue {
        let mut cookie = Cookie::build((SESSION_COOKIE, ""))
            .path("/ui")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.tls)
            .build();
        cookie.make_removal();
        HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
    }

    /// `response`, setting the form cookie when this visit made one.
    pub fn respond(&self, mut response: Response) -> Response {
        if let Some(value) = &self.set_form_cookie {
            response.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(FORM_COOKIE, value, self.tls),
            );
        }
        response
    }
}

fn cookie_header(name: &'static str, value: &str, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((name, value.to_owned()))
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build();
    // A cookie's value is URL-safe base64 and an id: always a valid header value.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let session_secret = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
        let (csrf, set_form_cookie) = match expected_csrf(&jar) {
            Some(csrf) => (csrf, None),
            None => {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                let value = URL_SAFE_NO_PAD.encode(bytes);
                (csrf_of(&value), Some(value))
            }
        };
        Ok(Visitor {
            csrf,
            client: client_info(parts),
            session_secret,
            set_form_cookie,
            tls: over_tls(parts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert_ne!(csrf_of("one"), csrf_of("two"));
    }

    #[test]
    fn the_tenant_of_a_console_path() {
        let tenant = TenantId::generate();
        assert_eq!(
            tenant_of_path(&format!("/ui/t/{tenant}/users")),
            Some(tenant)
        );
        assert_eq!(tenant_of_path("/ui/operator/tenants"), None);
        assert_eq!(tenant_of_path("/ui/t/nonsense/users"), None);
    }
}
