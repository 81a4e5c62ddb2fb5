//! A tenant taken out (`GET …/export`) and brought in (`POST …/import`), both as
//! streams of lines: memory holds a few batches however large the tenant or file.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use utoipa::IntoParams;

use crate::domain::{ImportOptions, TenantId};
use crate::http::AppState;
use crate::service::ExportOptions;
use crate::transfer::{self, Format, ReadOptions};

use super::error::{ApiError, Problem};
use super::extract::{Auth, Path, Query};

const PROBLEM: &str = "application/problem+json";
const NDJSON: &str = "application/x-ndjson";

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ExportParams {
    /// Include the users' password hashes (the operator only; audited).
    password_hashes: Option<bool>,
}

/// Take a tenant out as NDJSON (tenant admins and the operator): a header line, the
/// declared attributes, the groups (each after its parents), the users with their
/// profiles, attributes and direct groups, and the API keys' descriptions (never
/// their secrets). Streamed: memory stays flat whatever the tenant's size.
#[utoipa::path(
    get, path = "/v1/tenants/{tenantId}/export", tag = "transfer", operation_id = "exportTenant",
    params(("tenantId" = TenantId, Path), ExportParams),
    responses(
        (status = 200, description = "One JSON object per line", content_type = "application/x-ndjson", body = String),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let options = ExportOptions {
        password_hashes: params.password_hashes.unwrap_or(false),
    };
    let chunks = transfer::export(&state.directory, &caller, tenant, options).await?;
    let body = chunks.map(|chunk| match chunk {
        Ok(lines) => Ok(ndjson_lines(&lines)),
        Err(error) => {
            // The status is sent; a cut-off body is how the client learns of it.
            tracing::error!(error = %error, "an export stopped");
            Err(std::io::Error::other("the export stopped"))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, NDJSON),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ImportParams {
    /// The body's format: `roster` (NDJSON, the default), `csv`, `scim` or `keycloak`.
    #[param(inline, value_type = Option<Format>)]
    format: Option<Format>,
    /// Report what would happen, writing nothing.
    dry_run: Option<bool>,
    /// All lines or none: the first refused line ends the import, writing nothing.
    atomic: Option<bool>,
}

/// Bring users, groups, memberships and declared attributes in (tenant admins and the
/// operator). The body is streamed in; a result line per input line is streamed out
/// as each batch is done (`{"line", "status": "created"|"updated"|"unchanged"|
/// "skipped"|"failed", "kind", "id"}` or the line's `errors`), then a `summary` line.
/// Users are matched by `externalId`, else by email, and groups by name, so an
/// import that stopped can be run again. A line the directory refuses does not stop
/// the others unless `atomic`.
#[utoipa::path(
    post, path = "/v1/tenants/{tenantId}/import", tag = "transfer", operation_id = "importTenant",
    params(("tenantId" = TenantId, Path), ImportParams),
    request_body(content = Option<String>, content_type = "text/plain", description = "The file, in the format named: NDJSON, CSV or JSON (any content type is read as the format says). An empty body is an empty file: nothing is imported."),
    responses(
        (status = 200, description = "A result line per input line, then a summary line", content_type = "application/x-ndjson", body = String),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(tenant): Path<TenantId>,
    Query(params): Query<ImportParams>,
    body: Body,
) -> Result<Response, ApiError> {
    let options = ImportOptions {
        dry_run: params.dry_run.unwrap_or(false),
        atomic: params.atomic.unwrap_or(false),
    };
    let importer = state.directory.importer(&caller, tenant, options).await?;
    let input =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let input =
        std::io::BufReader::with_capacity(64 * 1024, tokio_util::io::SyncIoBridge::new(input));
    let read_options = ReadOptions {
        policy: *state.directory.password_policy(),
    };
    let running = transfer::start(
        importer,
        params.format.unwrap_or_default(),
        input,
        read_options,
    );
    let results =
        tokio_stream_of(running.results).map(|lines| Ok::<_, std::io::Error>(ndjson_lines(&lines)));
    let last = futures_util::stream::once(async move {
        match running.last.await {
            Ok(last) => Ok(ndjson(&last)),
            Err(error) => {
                tracing::error!(%error, "an import's task ended without its summary");
                Err(std::io::Error::other("the import stopped"))
            }
        }
    });
    let body = results.chain(last);
    Ok((
        [
            (header::CONTENT_TYPE, NDJSON),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// A receiver as a stream of what it receives.
fn tokio_stream_of<T: Send + 'static>(
    receiver: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

/// JSON values as lines of NDJSON.
fn ndjson_lines(lines: &[serde_json::Value]) -> Bytes {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(&ndjson(line));
    }
    Bytes::from(bytes)
}

/// A JSON value as one line of NDJSON.
fn ndjson(value: &serde_json::Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}
