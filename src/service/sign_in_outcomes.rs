//! How sign-ins end, counted for the metrics: a rise in invalid credentials or
//! lockouts is an attack or a broken client, and one in errors an outage, and the
//! audit log answers neither question cheaply.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::{ServiceError, ServiceResult, SessionStart};

/// What a sign-in was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignInKind {
    /// A user's email and password exchanged for an access token.
    Token,
    /// A user's sign-in to the web console, either step.
    Session,
    /// The operator's sign-in to the web console with its credential.
    OperatorSession,
}

impl SignInKind {
    fn as_str(self) -> &'static str {
        match self {
            SignInKind::Token => "token",
            SignInKind::Session => "session",
            SignInKind::OperatorSession => "operator_session",
        }
    }
}

/// How a sign-in ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignInOutcome {
    /// Signed in: a token or a session was issued.
    Success,
    /// The password was right and the account wants its second factor next.
    SecondFactorRequired,
    /// An unknown account, a wrong password, or (second step) an unknown session.
    InvalidCredentials,
    /// The second factor was wrong.
    SecondFactorRejected,
    /// The account is locked after too many failures.
    LockedOut,
    /// The client address made too many attempts.
    Throttled,
    /// The password was right but the account is disabled or not yet activated.
    Refused,
    /// The sign-in could not be decided (the database did not answer, say).
    Error,
}

impl SignInOutcome {
    fn as_str(self) -> &'static str {
        match self {
            SignInOutcome::Success => "success",
            SignInOutcome::SecondFactorRequired => "second_factor_required",
            SignInOutcome::InvalidCredentials => "invalid_credentials",
            SignInOutcome::SecondFactorRejected => "second_factor_rejected",
            SignInOutcome::LockedOut => "locked_out",
            SignInOutcome::Throttled => "throttled",
            SignInOutcome::Refused => "refused",
            SignInOutcome::Error => "error",
        }
    }

    /// The outcome of a sign-in that answered `result`.
    pub(super) fn of<T>(result: &ServiceResult<T>) -> Self {
        match result {
            Ok(_) => SignInOutcome::Success,
            Err(error) => Self::of_error(error),
        }
    }

    /// The outcome of a console sign-in's first step.
    pub(super) fn of_start(result: &ServiceResult<SessionStart>) -> Self {
        match result {
            Ok(SessionStart::SecondFactor(_)) => SignInOutcome::SecondFactorRequired,
            Ok(SessionStart::SignedIn(_)) => SignInOutcome::Success,
            Err(error) => Self::of_error(error),
        }
    }

    fn of_error(error: &ServiceError) -> Self {
        match error {
            ServiceError::Unauthorized => SignInOutcome::InvalidCredentials,
            ServiceError::TwoFactorRequired => SignInOutcome::SecondFactorRequired,
            ServiceError::TwoFactorRejected => SignInOutcome::SecondFactorRejected,
            ServiceError::Locked { .. } => SignInOutcome::LockedOut,
            ServiceError::TooManyAttempts { .. } => SignInOutcome::Throttled,
            ServiceError::Forbidden(_) => SignInOutcome::Refused,
            _ => SignInOutcome::Error,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    kind: &'static str,
    outcome: &'static str,
}

/// The sign-ins so far, by kind and outcome (at most 3 × 8 counters).
#[derive(Debug, Clone, Default)]
pub(super) struct SignInCounts(Family<SignInLabels, Counter>);

impl SignInCounts {
    pub(super) fn count(&self, kind: SignInKind, outcome: SignInOutcome) {
        let labels = SignInLabels {
            kind: kind.as_str(),
            outcome: outcome.as_str(),
        };
        self.0.get_or_create(&labels).inc();
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "roster_sign_ins",
            "Sign-ins by kind (token, session, operator_session) and outcome",
            self.0.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_of_a_sign_in_has_its_own_outcome() {
        let outcomes = [
            (ServiceError::Unauthorized, "invalid_credentials"),
            (ServiceError::TwoFactorRequired, "second_factor_required"),
            (ServiceError::TwoFactorRejected, "second_factor_rejected"),
            (
                ServiceError::Locked {
                    retry_after_seconds: 60,
                },
                "locked_out",
            ),
            (
                ServiceError::TooManyAttempts {
                    retry_after_seconds: 60,
                },
                "throttled",
            ),
            (
                ServiceError::Forbidden("this account is disabled"),
                "refused",
            ),
            (
                ServiceError::Unavailable {
                    retry_after_seconds: 1,
                },
                "error",
            ),
        ];
        for (error, outcome) in outcomes {
            let result: ServiceResult<()> = Err(error);
            assert_eq!(SignInOutcome::of(&result).as_str(), outcome);
        }
        assert_eq!(SignInOutcome::of(&Ok(())).as_str(), "success");
    }
}
