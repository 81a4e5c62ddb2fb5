//! Group commit of user creation: the creates that arrive while others are being
//! written wait, and are then written together, in one transaction with one commit
//! (and, on SQLite, one sync of its log), by multi-row statements.
//!
//! A create is answered only once the transaction holding it has committed, so
//! durability is that of a create on its own. Nor does one create's failure take
//! the others down: when the multi-row statements are refused (an email already
//! taken, say), the batch is undone to a savepoint and its creates are written one
//! by one, each under a savepoint of its own, exactly as a create on its own is, so
//! that the refused one fails with its own reason and the rest are kept.
//!
//! Only plain creates come here: a user with a manager or with values of declared
//! attributes is written on its own, by [`super::users::insert_user`] directly.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::auth::Caller;
use crate::domain::{AuditEvent, TenantId, User};
use crate::store::{Store, StoreResult, Tx};

use super::changes::user_created;
use super::users::{creation_event, insert_user};
use super::{ServiceError, ServiceResult};

/// At most this many creates go in one transaction.
const MOST_PER_BATCH: usize = 256;

/// The creates waiting to be written, and the task that writes them (started by
/// the first create, ended when the last clone of the directory is dropped).
#[derive(Default, Clone)]
pub(super) struct Creates(Arc<OnceLock<mpsc::UnboundedSender<Create>>>);

/// One create, as its request hands it over.
struct Create {
    caller: Caller,
    user: User,
    password_hash: Option<String>,
    done: oneshot::Sender<ServiceResult<User>>,
}

impl Creates {
    /// Writes `user` (checked, with its password hash) together with the creates
    /// made meanwhile, and answers it once committed.
    pub(super) async fn create(
        &self,
        store: &Store,
        caller: &Caller,
        user: User,
        password_hash: Option<String>,
    ) -> ServiceResult<User> {
        let queue = self.0.get_or_init(|| {
            let (queue, waiting) = mpsc::unbounded_channel();
            tokio::spawn(write_as_they_come(store.clone(), waiting));
            queue
        });
        let (done, answer) = oneshot::channel();
        let create = Create {
            caller: caller.clone(),
            user,
            password_hash,
            done,
        };
        if queue.send(create).is_err() {
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "the task that writes creates has ended"
            )));
        }
        answer.await.unwrap_or_else(|_| {
            Err(ServiceError::Internal(anyhow::anyhow!(
                "the create was dropped unwritten"
            )))
        })
    }
}

/// Writes the creates as they come: each batch holds those that came while the
/// one before it was written.
async fn write_as_they_come(store: Store, mut waiting: mpsc::UnboundedReceiver<Create>) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < MOST_PER_BATCH {
            match waiting.try_recv() {
                Ok(create) => batch.push(create),
                Err(_) => break,
            }
        }
        // On a task of its own, so that a panic answers this batch's creates with
        // an error (their senders dropped) and leaves the loop to write the next.
        let written = tokio::spawn(write_batch(store.clone(), batch)).await;
        if let Err(panicked) = written {
            tracing::error!(error = %panicked, "writing a batch of creates failed");
        }
    }
}

/// Writes `batch` in one transaction and answers each create.
async fn write_batch(store: Store, mut batch: Vec<Create>) {
    let outcomes = match written(&store, &mut batch).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            // Nothing was committed: every create fails, alike.
            let error = ServiceError::from(error);
            batch.iter().map(|_| Err(alike(&error))).collect()
        }
    };
    for (create, outcome) in batch.into_iter().zip(outcomes) {
        let answer = outcome.map(|()| create.user);
        // A create whose request has gone is written all the same.
        let _ = create.done.send(answer);
    }
}

/// Writes the batch and commits: each create's outcome, or the error that kept
/// the transaction from committing.
async fn written(store: &Store, batch: &mut [Create]) -> StoreResult<Vec<ServiceResult<()>>> {
    let mut tx = store.begin().await?;
    let outcomes = if batch.len() == 1 {
        vec![one(&mut tx, &mut batch[0]).await]
    } else {
        tx.savepoint("created_together").await?;
        match together(&mut tx, batch).await {
            Ok(()) => {
                tx.release_savepoint("created_together").await?;
                batch.iter().map(|_| Ok(())).collect()
            }
            Err(_) => {
                // Refused as a whole: one by one, to keep all but the refused.
                tx.rollback_to_savepoint("created_together").await?;
                let mut outcomes = Vec::with_capacity(batch.len());
                for create in batch.iter_mut() {
                    tx.savepoint("created_alone").await?;
                    let outcome = one(&mut tx, create).await;
                    if outcome.is_err() {
                        tx.rollback_to_savepoint("created_alone").await?;
                    }
                    tx.release_savepoint("created_alone").await?;
                    outcomes.push(outcome);
                }
                tx.release_savepoint("created_together").await?;
                outcomes
            }
        }
    };
    if outcomes.iter().any(Result::is_ok) {
        tx.commit().await?;
    }
    Ok(outcomes)
}

/// Writes one create as a create on its own is written.
async fn one(tx: &mut Tx, create: &mut Create) -> ServiceResult<()> {
    insert_user(
        tx,
        &create.caller,
        &mut create.user,
        create.password_hash.as_deref(),
        &[],
    )
    .await
}

/// Writes every create of the batch by multi-row statements: the users of each
/// tenant, then every audit event.
async fn together(tx: &mut Tx, batch: &[Create]) -> StoreResult<()> {
    let mut tenants: Vec<TenantId> = batch.iter().map(|c| c.user.tenant_id).collect();
    tenants.sort_by_key(|t| t.as_uuid());
    tenants.dedup();
    for tenant in tenants {
        let users: Vec<(User, Option<String>)> = batch
            .iter()
            .filter(|c| c.user.tenant_id == tenant)
            .map(|c| (c.user.clone(), c.password_hash.clone()))
            .collect();
        tx.insert_users(&users, false).await?;
    }
    let events: Vec<AuditEvent> = batch
        .iter()
        .map(|c| creation_event(&c.caller, &c.user))
        .collect();
    tx.insert_audit_events(&events).await?;
    tx.record_changes(batch.iter().map(|c| user_created(&c.caller, &c.user)));
    Ok(())
}

/// The same error again, for another create of a batch that failed as a whole.
fn alike(error: &ServiceError) -> ServiceError {
    match error {
        ServiceError::Unavailable {
            retry_after_seconds,
        } => ServiceError::Unavailable {
            retry_after_seconds: *retry_after_seconds,
        },
        other => ServiceError::Internal(anyhow::anyhow!("{other:#}")),
    }
}
