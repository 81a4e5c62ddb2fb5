//! `roster export` and `roster import`: on the database directly, or on a running
//! server (`--server URL`, with the token in `ROSTER_TOKEN`), streamed either way.
//!
//! An import shows its progress on standard error: a bar with the count, rate and
//! time left on a terminal, otherwise a JSON line a second. Refused lines and the
//! closing summary go to standard output as NDJSON; `--results FILE` keeps every
//! line's result.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::config::DatabaseUrl;
use crate::domain::{ImportOptions, TenantId};
use crate::service::ExportOptions;
use crate::transfer::{self, Format, ReadOptions};

/// The environment variable holding the bearer token for `--server`.
const TOKEN_VARIABLE: &str = "ROSTER_TOKEN";

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The tenant's id.
    #[arg(long, value_name = "ID")]
    tenant: String,
    /// Include the users' password hashes (audited; on a server, the operator's token only).
    #[arg(long)]
    password_hashes: bool,
    /// Where to write the NDJSON (standard output by default).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Export from the server at this URL instead of the database (token in ROSTER_TOKEN).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The tenant's id.
    #[arg(long, value_name = "ID")]
    tenant: String,
    /// The file's format.
    #[arg(long, value_enum, default_value = "roster")]
    format: Format,
    /// Report what would happen, writing nothing.
    #[arg(long)]
    dry_run: bool,
    /// All lines or none: the first refused line ends the import, writing nothing.
    #[arg(long)]
    atomic: bool,
    /// Import into the server at this URL instead of the database (token in ROSTER_TOKEN).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Write every line's result here (NDJSON), not only the refused lines'.
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    /// The file to import (`-` for standard input).
    file: PathBuf,
}

fn tenant_id(tenant: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(tenant).map_err(|e| anyhow::anyhow!("--tenant {e}"))
}

fn token() -> anyhow::Result<String> {
    std::env::var(TOKEN_VARIABLE)
        .ok()
        .filter(|t| !t.is_empty())
        .with_context(|| format!("--server needs the bearer token in {TOKEN_VARIABLE}"))
}

fn output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout())),
    })
}

fn write_line(out: &mut dyn Write, value: &Value) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

pub async fn export(url: &DatabaseUrl, args: ExportArgs) -> anyhow::Result<()> {
    let tenant = tenant_id(&args.tenant)?;
    let mut out = output(args.output.as_deref())?;
    if let Some(server) = &args.server {
        let url = format!(
            "{}/v1/tenants/{tenant}/export?passwordHashes={}",
            server.trim_end_matches('/'),
            args.password_hashes
        );
        let response = reqwest::Client::new()
            .get(&url)
            .bearer_auth(token()?)
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?;
        let response = refused_by_server(response).await?;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            out.write_all(&chunk.context("the export was cut off")?)?;
        }
        out.flush()?;
        return Ok(());
    }
    let directory = super::cli_directory(url).await?;
    let caller = Caller::cli();
    let options = ExportOptions {
        password_hashes: args.password_hashes,
    };
    let result = async {
        let chunks = transfer::export(&directory, &caller, tenant, options).await?;
        let mut chunks = std::pin::pin!(chunks);
        while let Some(lines) = chunks.next().await {
            for line in lines? {
                write_line(&mut out, &line)?;
            }
        }
        out.flush()?;
        anyhow::Ok(())
    }
    .await;
    directory.store().close().await;
    result
}

/// The response, or its problem as the error.
async fn refused_by_server(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|problem| {
            let detail = problem.get("detail")?.as_str()?.to_owned();
            Some(match problem.get("errors") {
                Some(errors) => format!("{detail} {errors}"),
                None => detail,
            })
        })
        .unwrap_or(body);
    anyhow::bail!("the server answered {status}: {detail}")
}

/// A reader that counts the bytes read through it, for the progress shown.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The input file (or standard input), its size when known, and the count of the
/// bytes read from it so far.
fn open_input(path: &Path) -> anyhow::Result<(Box<dyn Read + Send>, Option<u64>)> {
    if path == Path::new("-") {
        return Ok((Box::new(std::io::stdin()), None));
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(file), size))
}

pub async fn import(url: &DatabaseUrl, args: ImportArgs) -> anyhow::Result<()> {
    let tenant = tenant_id(&args.tenant)?;
    let options = ImportOptions {
        dry_run: args.dry_run,
        atomic: args.atomic,
    };
    let (input, size) = open_input(&args.file)?;
    let read = Arc::new(AtomicU64::new(0));
    let input = Counted {
        inner: input,
        read: Arc::clone(&read),
    };
    let mut all_results = match &args.results {
        Some(path) => Some(output(Some(path))?),
        None => None,
    };
    let mut progress = Progress::new(size, Arc::clone(&read));
    let mut stdout = output(None)?;
    let mut show = |value: &Value, progress: &mut Progress| -> std::io::Result<()> {
        if let Some(out) = all_results.as_mut() {
            write_line(out.as_mut(), value)?;
        }
        if value.get("status").and_then(Value::as_str) == Some("failed") {
            progress
                .suspend(|| write_line(stdout.as_mut(), value).and_then(|()| stdout.flush()))?;
        }
        Ok(())
    };

    let last: Value = if let Some(server) = &args.server {
        let url = format!(
            "{}/v1/tenants/{tenant}/import?format={}&dryRun={}&atomic={}",
            server.trim_end_matches('/'),
            format_name(args.format),
            options.dry_run,
            options.atomic
        );
        let (chunks, receiver) = mpsc::channel::<std::io::Result<Vec<u8>>>(4);
        // The file is read on a blocking thread and streamed as the request's body.
        tokio::task::spawn_blocking(move || {
            let mut input = std::io::BufReader::with_capacity(256 * 1024, input);
            loop {
                let chunk = match input.fill_buf() {
                    Ok([]) => break,
                    Ok(buf) => buf.to_vec(),
                    Err(error) => {
                        let _ = chunks.blocking_send(Err(error));
                        break;
                    }
                };
                input.consume(chunk.len());
                if chunks.blocking_send(Ok(chunk)).is_err() {
                    break;
                }
            }
        });
        let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) },
        ));
        let response = reqwest::Client::new()
            .post(&url)
            .bearer_auth(token()?)
            .header(reqwest::header::CONTENT_TYPE, content_type(args.format))
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?;
        let response = refused_by_server(response).await?;
        let stream = response.bytes_stream().map_err(std::io::Error::other);
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
            tokio_util::io::StreamReader::new(stream),
        ));
        let mut last = Value::Null;
        while let Some(line) = lines
            .next_line()
            .await
            .context("the results were cut off")?
        {
            let value: Value = serde_json::from_str(&line).context("a result line is not JSON")?;
            if value.get("line").is_some() {
                progress.result();
                show(&value, &mut progress)?;
            } else {
                last = value;
            }
            progress.tick();
        }
        last
    } else {
        let directory = super::cli_directory(url).await?;
        let importer = directory.importer(&Caller::cli(), tenant, options).await?;
        let read_options = ReadOptions {
            policy: *directory.password_policy(),
        };
        let input = std::io::BufReader::with_capacity(256 * 1024, input);
        let mut running = transfer::start(importer, args.format, input, read_options);
        while let Some(lines) = running.results.recv().await {
            for line in &lines {
                progress.result();
                show(line, &mut progress)?;
            }
            progress.tick();
        }
        let last = running.last.await.context("the import stopped")?;
        directory.store().close().await;
        last
    };
    progress.finish();
    if let Some(out) = all_results.as_mut() {
        out.flush()?;
    }
    write_line(stdout.as_mut(), &last)?;
    stdout.flush()?;
    if let Some(error) = last.get("error") {
        anyhow::bail!("the import stopped: {error}");
    }
    let failed = last["summary"]["failed"].as_u64().unwrap_or(0);
    if failed > 0 || last["complete"] == Value::Bool(false) {
        anyhow::bail!("{failed} line(s) refused");
    }
    Ok(())
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Roster => "roster",
        Format::Csv => "csv",
        Format::Scim => "scim",
        Format::Keycloak => "keycloak",
    }
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Roster => "application/x-ndjson",
        Format::Csv => "text/csv",
        Format::Scim | Format::Keycloak => "application/json",
    }
}

/// The progress of an import as standard error shows it.
enum Progress {
    /// A person at a terminal: a bar.
    Bar(indicatif::ProgressBar, u64),
    /// A file or a pipe: a JSON line a second.
    Lines {
        read: Arc<AtomicU64>,
        size: Option<u64>,
        results: u64,
        started: Instant,
        last: Instant,
    },
}

impl Progress {
    fn new(size: Option<u64>, read: Arc<AtomicU64>) -> Self {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            let bar = match size {
                Some(size) => indicatif::ProgressBar::new(size),
                None => indicatif::ProgressBar::no_length(),
            };
            let style = indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} · {msg} · {elapsed} elapsed, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            // The bar follows the bytes read; the count of lines is its message.
            let follower = bar.clone();
            std::thread::spawn(move || {
                while !follower.is_finished() {
                    follower.set_position(read.load(Ordering::Relaxed));
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
            Progress::Bar(bar, 0)
        } else {
            let now = Instant::now();
            Progress::Lines {
                read,
                size,
                results: 0,
                started: now,
                last: now,
            }
        }
    }

    /// One more line imported.
    fn result(&mut self) {
        match self {
            Progress::Bar(_, results) => *results += 1,
            Progress::Lines { results, .. } => *results += 1,
        }
    }

    /// Shows the progress, at most once a second for lines.
    fn tick(&mut self) {
        match self {
            Progress::Bar(bar, results) => {
                let rate = *results as f64 / bar.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!("{results} lines, {rate:.0}/s"));
            }
            Progress::Lines {
                read,
                size,
                results,
                started,
                last,
            } => {
                if last.elapsed() < Duration::from_secs(1) {
                    return;
                }
                *last = Instant::now();
                eprintln!("{}", progress_json(*results, read, *size, *started));
            }
        }
    }

    /// Runs `write` without the bar in the way.
    fn suspend<T>(&self, write: impl FnOnce() -> T) -> T {
        match self {
            Progress::Bar(bar, _) => bar.suspend(write),
            Progress::Lines { .. } => write(),
        }
    }

    fn finish(&mut self) {
        match self {
            Progress::Bar(bar, _) => bar.finish_and_clear(),
            Progress::Lines {
                read,
                size,
                results,
                started,
                ..
            } => eprintln!("{}", progress_json(*results, read, *size, *started)),
        }
    }
}

fn progress_json(results: u64, read: &AtomicU64, size: Option<u64>, started: Instant) -> Value {
    let seconds = started.elapsed().as_secs_f64();
    let bytes = read.load(Ordering::Relaxed);
    let rate = results as f64 / seconds.max(0.001);
    let eta = size.filter(|_| bytes > 0).map(|size| {
        let left = size.saturating_sub(bytes) as f64 / (bytes as f64 / seconds.max(0.001));
        (left * 10.0).round() / 10.0
    });
    serde_json::json!({
        "progress": {
            "lines": results,
            "bytes": bytes,
            "totalBytes": size,
            "linesPerSecond": rate.round(),
            "elapsedSeconds": (seconds * 10.0).round() / 10.0,
            "etaSeconds": eta,
        }
    })
}
