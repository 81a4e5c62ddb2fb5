//! Directories brought in and taken out as files: the formats an import reads
//! (Roster's own NDJSON, CSV, a SCIM ListResponse, a Keycloak realm export) and the
//! NDJSON an export writes. Like a face, this only translates: each format turns its
//! lines into [`Record`]s, and the service's importer decides what they do.
//!
//! Reading runs on a blocking thread of its own, a batch of records ahead of the
//! importer, so that parsing and writing proceed side by side; the batches pass
//! through a bounded channel, so memory holds a few batches whatever the file's size.

pub mod csv;
pub mod keycloak;
pub mod roster;
pub mod scim;

use std::io::BufRead;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::domain::TenantId;
use crate::domain::{
    FieldViolation, ImportOptions, ImportSummary, LineOutcome, Outcome, PasswordPolicy, Record,
};
use crate::service::{Directory, ExportOptions, Importer, ServiceError};

/// The formats an import reads.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Roster's own NDJSON, as `roster export` writes it.
    #[default]
    Roster,
    /// Comma-separated values with a header line (docs/operations.md names the columns).
    Csv,
    /// A SCIM 2.0 ListResponse of User and Group resources (RFC 7644 §3.4.2).
    Scim,
    /// A Keycloak realm export (`kc.sh export`): users, groups and subgroups, group
    /// membership and password credentials.
    Keycloak,
}

/// A record read from a line (counted from 1), or why the line was refused.
pub type Line = (u64, Result<Record, Vec<FieldViolation>>);

/// What the formats need besides the input.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// The rules a plaintext password in the input must meet.
    pub policy: PasswordPolicy,
}

/// Why reading stopped before the end of the input.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the input: {0}")]
    Io(#[from] std::io::Error),
    /// The input is not in the format at all (not one line of it is usable).
    #[error("{0}")]
    Format(String),
}

/// A refusal of one field, for a [`Line`].
pub fn refused(field: impl Into<String>, reason: impl Into<String>) -> Vec<FieldViolation> {
    vec![FieldViolation {
        field: field.into(),
        reason: reason.into(),
    }]
}

/// Reads `input` in `format`, handing each record to `emit` in order until the input
/// ends or `emit` answers `false`.
pub fn read(
    format: Format,
    input: &mut dyn BufRead,
    options: &ReadOptions,
    emit: &mut dyn FnMut(Line) -> bool,
) -> Result<(), ReadError> {
    match format {
        Format::Roster => roster::read(input, options, emit),
        Format::Csv => csv::read(input, options, emit),
        Format::Scim => scim::read(input, options, emit),
        Format::Keycloak => keycloak::read(input, options, emit),
    }
}

/// Every line of `input` read in `format`, for the formats' tests.
#[cfg(test)]
fn read_all(format: Format, input: &str) -> Result<Vec<Line>, ReadError> {
    let mut lines = Vec::new();
    read(
        format,
        &mut input.as_bytes(),
        &ReadOptions::default(),
        &mut |line| {
            lines.push(line);
            true
        },
    )?;
    Ok(lines)
}

/// Records per batch handed to the importer: one transaction's worth. On SQLite a
/// batch holds the write lock for about a quarter of a second; fewer records a
/// batch write the same index pages more often (at 1,000, an import of a million
/// users ran 20% slower).
pub const BATCH: usize = 5000;

/// Reads `input` on a blocking thread, handing the records over in batches of
/// [`BATCH`]; a reading failure ends the stream as its last item.
fn spawn_reader(
    format: Format,
    mut input: impl BufRead + Send + 'static,
    options: ReadOptions,
) -> mpsc::Receiver<Result<Vec<Line>, ReadError>> {
    let (sender, receiver) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        let mut emit = |line: Line| {
            batch.push(line);
            if batch.len() < BATCH {
                return true;
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            sender.blocking_send(Ok(full)).is_ok()
        };
        let result = read(format, &mut input, &options, &mut emit);
        let last = match result {
            Ok(()) => Ok(batch),
            Err(error) => Err(error),
        };
        // The importer may have stopped (an atomic import refused a line).
        let _ = sender.blocking_send(last);
    });
    receiver
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A tenant taken out as the lines of Roster's NDJSON, in chunks: the header, then
/// each chunk the service reads. The one export the command line and the HTTP face
/// write out.
pub async fn export(
    directory: &Directory,
    caller: &Caller,
    tenant: TenantId,
    options: ExportOptions,
) -> Result<
    impl futures_util::Stream<Item = Result<Vec<Value>, ServiceError>> + Send + 'static,
    ServiceError,
> {
    let items = directory.export(caller, tenant, options).await?;
    let declared = directory.attributes(caller, tenant).await?;
    let header = vec![roster::header(tenant, options.password_hashes)];
    let lines = futures_util::StreamExt::map(items, move |chunk| {
        chunk.map(|items| {
            (items.into_iter())
                .map(|item| roster::line(item, &declared))
                .collect()
        })
    });
    Ok(futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(header) }),
        lines,
    ))
}

/// An import running on a task of its own.
pub struct Running {
    /// Each batch's result lines, as the batch is done. When they are no longer
    /// read (the client went away), the import stops after the batch at hand.
    pub results: mpsc::Receiver<Vec<Value>>,
    /// The last line: the summary ([`summary_json`]), or why the import stopped
    /// ([`failure_json`]).
    pub last: tokio::task::JoinHandle<Value>,
}

/// Starts `importer` on `input` read in `format`: the one way the command line and
/// the HTTP face run an import.
pub fn start(
    importer: Importer,
    format: Format,
    input: impl BufRead + Send + 'static,
    read: ReadOptions,
) -> Running {
    let batches = spawn_reader(format, input, read);
    let (sender, results) = mpsc::channel(4);
    let options = importer.options();
    let last = tokio::spawn(async move {
        match run(importer, batches, sender).await {
            Ok((summary, complete)) => summary_json(&summary, options, complete),
            Err(error) => failure_json(&error),
        }
    });
    Running { results, last }
}

/// Runs `importer` over `batches`, handing each batch's result lines to `results`;
/// answers the summary, and whether the import ran to its end (an atomic one ends
/// at the first refused line, having written nothing).
async fn run(
    mut importer: Importer,
    batches: mpsc::Receiver<Result<Vec<Line>, ReadError>>,
    results: mpsc::Sender<Vec<Value>>,
) -> Result<(ImportSummary, bool), ImportError> {
    match feed(&mut importer, batches, results).await {
        Ok(complete) => Ok((importer.finish().await?, complete)),
        Err(error) => {
            importer.abandon().await;
            Err(error)
        }
    }
}

/// Hands `importer` each batch in turn; answers whether every batch was applied.
async fn feed(
    importer: &mut Importer,
    mut batches: mpsc::Receiver<Result<Vec<Line>, ReadError>>,
    results: mpsc::Sender<Vec<Value>>,
) -> Result<bool, ImportError> {
    let mut listened = true;
    while let Some(batch) = batches.recv().await {
        let batch = batch?;
        if batch.is_empty() {
            continue;
        }
        let outcomes = importer.apply(batch).await?;
        listened = results
            .send(outcomes.iter().map(outcome_json).collect())
            .await
            .is_ok();
        if importer.stopped() || !listened {
            break;
        }
    }
    Ok(listened && !importer.stopped())
}

/// One result line of an import: the input line's number and what became of it.
fn outcome_json(outcome: &LineOutcome) -> Value {
    let line = outcome.line;
    match &outcome.outcome {
        Outcome::Created { kind, id } => {
            json!({"line": line, "status": "created", "kind": kind.as_str(), "id": id})
        }
        Outcome::Updated { kind, id } => {
            json!({"line": line, "status": "updated", "kind": kind.as_str(), "id": id})
        }
        Outcome::Unchanged { kind, id } => {
            json!({"line": line, "status": "unchanged", "kind": kind.as_str(), "id": id})
        }
        Outcome::Skipped { reason } => json!({"line": line, "status": "skipped", "reason": reason}),
        Outcome::Failed { errors } => json!({
            "line": line,
            "status": "failed",
            "errors": errors
                .iter()
                .map(|e| json!({"field": e.field, "reason": e.reason}))
                .collect::<Vec<_>>(),
        }),
    }
}

/// The last result line of an import: how many lines came to what.
fn summary_json(summary: &ImportSummary, options: ImportOptions, complete: bool) -> Value {
    json!({
        "summary": summary,
        "dryRun": options.dry_run,
        "atomic": options.atomic,
        "complete": complete,
    })
}

/// The last line of an import that stopped on an error of its own (the input
/// unreadable, the database unavailable): what was committed before it stays.
fn failure_json(error: &ImportError) -> Value {
    let detail = match error {
        ImportError::Read(error) => error.to_string(),
        ImportError::Service(ServiceError::Internal(_)) => "internal error".to_owned(),
        ImportError::Service(error) => error.to_string(),
    };
    json!({ "error": { "detail": detail }, "complete": false })
}
