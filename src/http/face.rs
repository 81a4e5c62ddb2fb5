//! Which face a request belongs to, and the refusals the HTTP layer makes before a
//! face's handler decides anything (unknown path, method, URI or header size,
//! malformed path or query, a handler that panicked): each is answered in the
//! format of the face whose path was asked.

use std::panic::AssertUnwindSafe;

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;

use super::{HttpLimits, compat, oauth, scim, ui, v1};

/// The face a path belongs to, by its prefix. A path under no face's prefix is the
/// native API's (its 404 is a problem document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Native,
    Scim,
    Anodot,
    Dynatrace,
    SixEye,
    Tyk,
    OAuth,
    /// The web console (`/ui`): answers in HTML.
    Console,
}

/// Whether `path` is `prefix` or lies under it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl Face {
    pub fn of(path: &str) -> Face {
        if under(path, "/scim/v2") {
            Face::Scim
        } else if under(path, "/api/v2") {
            Face::Anodot
        } else if under(path, "/api") {
            // The Tyk Dashboard's API lives under /api (users, usergroups, …).
            Face::Tyk
        } else if under(path, "/iam/v1") {
            Face::Dynatrace
        } else if under(path, "/users") {
            Face::SixEye
        } else if under(path, "/oauth2") || under(path, "/sso/oauth2") {
            Face::OAuth
        } else if under(path, "/ui") {
            Face::Console
        } else {
            Face::Native
        }
    }

    /// The face's name in metrics and logs: lower case, one word.
    pub fn name(self) -> &'static str {
        match self {
            Face::Native => "native",
            Face::Scim => "scim",
            Face::Anodot => "anodot",
            Face::Dynatrace => "dynatrace",
            Face::SixEye => "sixeye",
            Face::Tyk => "tyk",
            Face::OAuth => "oauth",
            Face::Console => "console",
        }
    }

    /// The refusal in this face's own error format.
    pub fn refuse(self, refusal: Refusal) -> Response {
        match self {
            Face::Native => v1::refuse(refusal),
            Face::Scim => scim::refuse(refusal),
            Face::Anodot => compat::anodot::refuse(refusal),
            Face::Dynatrace => compat::dynatrace::refuse(refusal),
            Face::SixEye => compat::sixeye::refuse(refusal),
            Face::Tyk => compat::tyk::refuse(refusal),
            Face::OAuth => oauth::refuse(refusal),
            Face::Console => ui::refuse(refusal),
        }
    }
}

/// What the HTTP layer refuses on a face's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No resource at this path, or one named by a malformed id (404).
    NoSuchPath,
    /// The path does not take this method (405; the `Allow` header lists those it does).
    MethodNotAllowed,
    /// The request target is longer than [`HttpLimits::max_uri_bytes`] (414).
    UriTooLong { max_bytes: usize },
    /// The header fields together are larger than [`HttpLimits::max_header_bytes`] (431).
    HeadersTooLarge { max_bytes: usize },
    /// A query string that cannot be read, or a parameter given more often than the
    /// face allows (400). `parameter` names it when it can be named.
    BadQuery {
        parameter: Option<String>,
        reason: String,
    },
    /// A handler panicked (500, opaque to the caller).
    Panicked,
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NoSuchPath => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Refusal::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Refusal::BadQuery { .. } => StatusCode::BAD_REQUEST,
            Refusal::Panicked => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A sentence for the caller.
    pub fn message(&self) -> String {
        match self {
            Refusal::NoSuchPath => "no resource exists at this path".to_owned(),
            Refusal::MethodNotAllowed => {
                "this resource does not support the request method".to_owned()
            }
            Refusal::UriTooLong { max_bytes } => {
                format!("the request URI is longer than {max_bytes} bytes")
            }
            Refusal::HeadersTooLarge { max_bytes } => {
                format!("the request's header fields are larger than {max_bytes} bytes")
            }
            Refusal::BadQuery {
                parameter: Some(parameter),
                reason,
            } => format!("query parameter {parameter}: {reason}"),
            Refusal::BadQuery {
                parameter: None,
                reason,
            } => reason.clone(),
            Refusal::Panicked => "the server could not complete the request".to_owned(),
        }
    }
}

/// The fallback for a path no route matches.
pub async fn no_such_path(uri: Uri) -> Response {
    Face::of(uri.path()).refuse(Refusal::NoSuchPath)
}

/// The fallback for a method a path does not take (axum adds `Allow`).
pub async fn method_not_allowed(uri: Uri) -> Response {
    Face::of(uri.path()).refuse(Refusal::MethodNotAllowed)
}

/// Refuses, in the asked face's format, a request whose URI or header fields are
/// over their limits, whose path has a segment that is not percent-encoded UTF-8
/// (404: such an id names nothing), or whose query string cannot be read (400).
pub async fn check_request(
    State(limits): State<std::sync::Arc<HttpLimits>>,
    request: Request,
    next: Next,
) -> Response {
    match refusal(&limits, &request) {
        Some(refusal) => Face::of(request.uri().path()).refuse(refusal),
        None => next.run(request).await,
    }
}

fn refusal(limits: &HttpLimits, request: &Request) -> Option<Refusal> {
    let uri = request.uri();
    let uri_bytes = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if uri_bytes > limits.max_uri_bytes {
        return Some(Refusal::UriTooLong {
            max_bytes: limits.max_uri_bytes,
        });
    }
    // As counted on the wire: "name: value\r\n".
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > limits.max_header_bytes {
        return Some(Refusal::HeadersTooLarge {
            max_bytes: limits.max_header_bytes,
        });
    }
    if uri
        .path()
        .split('/')
        .any(|segment| decode(segment).is_none())
    {
        return Some(Refusal::NoSuchPath);
    }
    if let Some(query) = uri.query() {
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(&name.replace('+', " "));
            if name.is_none() || decode(&value.replace('+', " ")).is_none() {
                return Some(Refusal::BadQuery {
                    parameter: name,
                    reason: "is not percent-encoded UTF-8".to_owned(),
                });
            }
        }
    }
    None
}

/// The refusal for a query string or form that serde_urlencoded could not read into
/// a face's parameters. Every parameter is read as text, so the failure is almost
/// always a repeated parameter, which the faces that read with this refuse.
pub fn unreadable_parameters(error: &serde_urlencoded::de::Error) -> Refusal {
    let text = error.to_string();
    match text.split('`').nth(1) {
        Some(name) if text.starts_with("duplicate field") => Refusal::BadQuery {
            parameter: Some(name.to_owned()),
            reason: "is given more than once".to_owned(),
        },
        _ if !super::body::names_rust_type(&text) => Refusal::BadQuery {
            parameter: None,
            reason: text,
        },
        _ => Refusal::BadQuery {
            parameter: None,
            reason: "the query string could not be read".to_owned(),
        },
    }
}

/// `text` percent-decoded, or `None` when a `%` is not followed by two hex digits or
/// the bytes are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Answers a request whose handler panicked in the format of the face it asked,
/// and logs it; the process and its other requests carry on.
pub async fn catch_panics(request: Request, next: Next) -> Response {
    let face = Face::of(request.uri().path());
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(?face, "a request handler panicked");
            face.refuse(Refusal::Panicked)
        }
    }
}

/// Panics when a request carries `x-roster-panic`, so that tests can watch each
/// face answer a handler that panicked. Compiled only with the `panic-probe`
/// feature, which only the tests enable; a release build has no such header.
#[cfg(feature = "panic-probe")]
pub async fn panic_probe(request: Request, next: Next) -> Response {
    if request.headers().contains_key("x-roster-panic") {
        panic!("panic probe");
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_belong_to_their_faces() {
        for (path, face) in [
            ("/v1/tenants", Face::Native),
            ("/scim/v2", Face::Scim),
            ("/scim/v2/Users/x", Face::Scim),
            ("/scim/v20", Face::Native),
            ("/api/v2/users", Face::Anodot),
            ("/api/v2", Face::Anodot),
            ("/api/users/1", Face::Tyk),
            ("/api/usergroups", Face::Tyk),
            ("/api/nothing", Face::Tyk),
            ("/iam/v1/accounts/x/users", Face::Dynatrace),
            ("/users", Face::SixEye),
            ("/users/1/x", Face::SixEye),
            ("/usersx", Face::Native),
            ("/oauth2/token", Face::OAuth),
            ("/sso/oauth2/token", Face::OAuth),
            ("/", Face::Native),
            ("/nothing", Face::Native),
        ] {
            assert_eq!(Face::of(path), face, "{path}");
        }
    }

    #[test]
    fn decoding_refuses_bad_escapes_and_invalid_utf8() {
        assert_eq!(decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode("plain").as_deref(), Some("plain"));
        for bad in ["%", "%2", "%zz", "%FF", "a%C3", "%%%"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
