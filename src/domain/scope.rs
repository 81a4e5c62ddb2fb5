//! OAuth 2.0 scopes (RFC 6749 section 3.3) of the access tokens a tenant API key is
//! exchanged for: what a token may do, at most what its key may do.

use super::{ApiKeyRole, Invalid};

/// What an access token may do in its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read users, groups and memberships; never change them.
    Read,
    /// Read and change them (as the key's role allows): includes `Read`.
    Write,
}

impl Scope {
    /// The scope a name stands for: Roster's own `read` and `write`, and Dynatrace's
    /// `account-idm-read` and `account-idm-write` (its Account Management API's user
    /// and group scopes), so that a Dynatrace client's token request works unchanged.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "read" | "account-idm-read" => Some(Scope::Read),
            "write" | "account-idm-write" => Some(Scope::Write),
            _ => None,
        }
    }

    /// Roster's own name of the scope.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// Whether a key of `role` may be granted this scope: a reader key never writes.
    pub fn allowed_for(self, role: ApiKeyRole) -> bool {
        match self {
            Scope::Read => true,
            Scope::Write => role == ApiKeyRole::Admin,
        }
    }
}

/// The scopes a client asked for, each under the name it used, in its order and
/// without repeats. Made only by [`ScopeRequest::parse`], so every name is known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeRequest(Vec<(String, Scope)>);

impl ScopeRequest {
    /// Reads the `scope` parameter: names separated by spaces. Absent or blank is
    /// the empty request (the key's own scopes are granted). An unknown name is
    /// refused, naming it.
    pub fn parse(scope: Option<&str>) -> Result<Self, Invalid> {
        let mut names: Vec<(String, Scope)> = Vec::new();
        for name in scope.unwrap_or("").split(' ').filter(|n| !n.is_empty()) {
            let scope = Scope::from_name(name).ok_or_else(|| {
                Invalid::new(format!(
                    "unknown scope \"{}\"; known: read, write, account-idm-read, \
                     account-idm-write",
                    name.chars().take(64).collect::<String>()
                ))
            })?;
            if !names.iter().any(|(n, _)| n == name) {
                names.push((name.to_owned(), scope));
            }
        }
        Ok(Self(names))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What a key of `role` is granted: the scopes asked for that the role allows,
    /// under the names asked for; with nothing asked for, every scope the role
    /// allows. `None` when something was asked for and none of it is allowed.
    pub fn grant(&self, role: ApiKeyRole) -> Option<GrantedScopes> {
        let names: Vec<(String, Scope)> = if self.0.is_empty() {
            [Scope::Read, Scope::Write]
                .into_iter()
                .filter(|s| s.allowed_for(role))
                .map(|s| (s.as_str().to_owned(), s))
                .collect()
        } else {
            self.0
                .iter()
                .filter(|(_, s)| s.allowed_for(role))
                .cloned()
                .collect()
        };
        (!names.is_empty()).then_some(GrantedScopes(names))
    }
}

/// The scopes a token was granted, under the names the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedScopes(Vec<(String, Scope)>);

impl GrantedScopes {
    /// Whether the token may change anything.
    pub fn can_write(&self) -> bool {
        self.0.iter().any(|(_, s)| *s == Scope::Write)
    }

    /// The reply's `scope`: the granted names, separated by spaces.
    pub fn to_scope_string(&self) -> String {
        self.0
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(scope: Option<&str>, role: ApiKeyRole) -> Option<String> {
        ScopeRequest::parse(scope)
            .unwrap()
            .grant(role)
            .map(|g| g.to_scope_string())
    }

    #[test]
    fn unknown_scopes_are_refused() {
        for bad in ["admin", "read admin", "READ", "openid"] {
            assert!(ScopeRequest::parse(Some(bad)).is_err(), "{bad}");
        }
        for good in [
            None,
            Some(""),
            Some("  "),
            Some("read"),
            Some("account-idm-write read"),
        ] {
            assert!(ScopeRequest::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_key_is_granted_at_most_what_its_role_allows() {
        use ApiKeyRole::{Admin, Reader};
        assert_eq!(granted(None, Admin).as_deref(), Some("read write"));
        assert_eq!(granted(None, Reader).as_deref(), Some("read"));
        assert_eq!(granted(Some("read"), Admin).as_deref(), Some("read"));
        assert_eq!(
            granted(Some("write read write"), Admin).as_deref(),
            Some("write read")
        );
        assert_eq!(granted(Some("read write"), Reader).as_deref(), Some("read"));
        assert_eq!(granted(Some("write"), Reader), None);
        assert_eq!(granted(Some("account-idm-write"), Reader), None);
        assert_eq!(
            granted(Some("account-idm-read"), Reader).as_deref(),
            Some("account-idm-read")
        );
    }

    #[test]
    fn only_a_write_scope_writes() {
        let read = ScopeRequest::parse(Some("read account-idm-read")).unwrap();
        assert!(!read.grant(ApiKeyRole::Admin).unwrap().can_write());
        let write = ScopeRequest::parse(Some("account-idm-write")).unwrap();
        assert!(write.grant(ApiKeyRole::Admin).unwrap().can_write());
    }
}
