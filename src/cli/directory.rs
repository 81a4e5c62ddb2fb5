//! The directory commands: `roster tenant …`, `roster user …`, `roster group …` and
//! `roster api-key …`. Each opens the database directly and calls the service as
//! [`Caller::cli`], so the rules and the audit are the API's.
//!
//! Output: one line per object, tab-separated, with a header only on a terminal; or,
//! with `--json`, one JSON object per line. A create prints the new object's id
//! (with `--json`, the object). Refusals go to stderr with a non-zero exit code.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Subcommand};
use futures_util::TryStreamExt;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::auth::{Caller, PasswordHasher};
use crate::config::{GlobalConfig, ServeConfig, ServeSettings, layered};
use crate::domain::{
    ApiKey, ApiKeyId, ApiKeyRole, Description, Email, Filter, Group, GroupId, GroupName,
    GroupOwner, Include, KeyName, NewApiKey, NewGroup, NewUser, PageLimit, PageRequest, PersonName,
    PrefixRange, Profile, Role, Status, Tenant, TenantId, TenantName, Timestamp, User, UserId,
    UserPatch, fold_case,
};
use crate::service::{Directory, Precondition, Resource, ServiceError};

/// The commands that read and change the directory.
#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Manage tenants directly in the database.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
        #[command(flatten)]
        output: Output,
    },
    /// Manage a tenant's users directly in the database.
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        output: Output,
    },
    /// Manage a tenant's groups and their members directly in the database.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
        #[command(flatten)]
        output: Output,
    },
    /// Manage tenant API keys directly in the database.
    #[command(name = "api-key")]
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
        #[command(flatten)]
        output: Output,
    },
}

/// How objects are printed.
#[derive(Debug, Clone, Copy, Args)]
pub struct Output {
    /// Print one JSON object per line instead of tab-separated columns.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id. A name another tenant has (in any letter
    /// case) is refused unless --allow-duplicate-name.
    Create {
        /// The tenant's display name.
        #[arg(long)]
        name: String,
        /// Create the tenant even if another has the same name.
        #[arg(long)]
        allow_duplicate_name: bool,
    },
    /// List every tenant: id, name.
    List,
    /// Delete a tenant with every user, group, membership, key and audit event of it.
    Delete {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// Confirm the deletion; without it nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List a tenant's users (id, email, first name, last name, role, status), in
    /// creation order, as they are read.
    List {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// Only users whose email, first or last name starts with this, in any letter
        /// case.
        #[arg(long, value_name = "Q")]
        query: Option<String>,
    },
    /// Create a user and print its id.
    Create {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// Unique in the tenant regardless of letter case.
        #[arg(long)]
        email: String,
        /// The user's first name; none by default.
        #[arg(
            long,
            value_name = "NAME",
            default_value = "",
            hide_default_value = true
        )]
        first_name: String,
        /// The user's last name; none by default.
        #[arg(
            long,
            value_name = "NAME",
            default_value = "",
            hide_default_value = true
        )]
        last_name: String,
        /// admin (manages the tenant's directory) or member (reads it, manages itself).
        #[arg(long, value_enum, default_value = "member")]
        role: UserRoleArg,
        /// Read the user's password from the first line of standard input (never
        /// from a flag, which other users of the machine can read).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: it can no longer sign in.
    Disable {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// The user's id.
        #[arg(long, value_name = "ID")]
        user: String,
    },
    /// Enable a user again (its status becomes active).
    Enable {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// The user's id.
        #[arg(long, value_name = "ID")]
        user: String,
    },
    /// Delete a user and its memberships.
    Delete {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// The user's id.
        #[arg(long, value_name = "ID")]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List a tenant's groups: id, name, description.
    List {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
    },
    /// Create a group and print its id.
    Create {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// Unique in the tenant regardless of letter case.
        #[arg(long)]
        name: String,
        /// What the group is for; none by default.
        #[arg(long, default_value = "", hide_default_value = true)]
        description: String,
    },
    /// Delete a group: its members leave it, and it leaves the groups it is in.
    Delete {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// The group's id.
        #[arg(long, value_name = "ID")]
        group: String,
    },
    /// Make a user (--user) or a group (--member-group) a direct member of a group.
    AddMember(MemberArgs),
    /// End a user's (--user) or a group's (--member-group) direct membership of a group.
    RemoveMember(MemberArgs),
}

/// A group and one member of it: a user or a group.
#[derive(Debug, Args)]
pub struct MemberArgs {
    /// The tenant's id.
    #[arg(long, value_name = "ID")]
    tenant: String,
    /// The group the member is in.
    #[arg(long, value_name = "ID")]
    group: String,
    /// The member user.
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "member_group",
        conflicts_with = "member_group"
    )]
    user: Option<String>,
    /// The member group (groups nest; a cycle is refused).
    #[arg(long, value_name = "ID")]
    member_group: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a tenant API key and print its secret (shown this once).
    Create {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// admin (reads and writes) or reader (reads only).
        #[arg(long, value_enum)]
        role: KeyRoleArg,
        /// A name to recognise the key by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// What the key is for; none by default.
        #[arg(long, default_value = "", hide_default_value = true)]
        description: String,
        /// When the key stops working (RFC 3339); never by default.
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
    },
    /// List a tenant's keys (id, name, role, created, expires, last used, revoked):
    /// never their secrets, which are not stored.
    List {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
    },
    /// Revoke a key: from now on it authenticates nothing.
    Revoke {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// The key's id.
        #[arg(long, value_name = "ID")]
        key: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KeyRoleArg {
    Admin,
    Reader,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum UserRoleArg {
    Admin,
    Member,
}

/// Runs a directory command against the database of `global`, with the password
/// hashing and policy `roster serve` would use (its settings from the environment
/// and `file`).
pub async fn run(
    command: DirectoryCommand,
    global: &GlobalConfig,
    file: Option<&Path>,
) -> anyhow::Result<()> {
    let directory = open(global, file).await?;
    let result = match command {
        DirectoryCommand::Tenant { command, output } => tenant(&directory, command, output).await,
        DirectoryCommand::User { command, output } => user(&directory, command, output).await,
        DirectoryCommand::Group { command, output } => group(&directory, command, output).await,
        DirectoryCommand::ApiKey { command, output } => api_key(&directory, command, output).await,
    };
    directory.store().close().await;
    match result {
        // A reader that stopped reading (`| head`) is not a failure.
        Err(error)
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// The directory over the database, hashing and judging new passwords as the
/// server does.
async fn open(global: &GlobalConfig, file: Option<&Path>) -> anyhow::Result<Directory> {
    let serve = serve_settings(global, file)?;
    // Opened (and migrated) as every command opens the database; its default
    // password hashing is then replaced by the server's.
    let directory = super::cli_directory(&global.database_url).await?;
    let passwords = PasswordHasher::new(serve.password)?;
    Ok(Directory::new(directory.store().clone(), passwords)
        .with_password_policy(serve.password_policy))
}

/// `roster serve`'s settings from the environment and the TOML file, layered as
/// `serve` layers them.
fn serve_settings(global: &GlobalConfig, file: Option<&Path>) -> anyhow::Result<ServeSettings> {
    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        config: ServeConfig,
    }
    let matches = Serve::command()
        .no_binary_name(true)
        .try_get_matches_from(std::iter::empty::<String>())
        .context("invalid settings in the environment")?;
    let serve = Serve::from_arg_matches(&matches)?.config;
    let serve = layered(&serve, &matches, file)?;
    ServeSettings::from_config(global, serve)
}

async fn tenant(
    directory: &Directory,
    command: TenantCommand,
    output: Output,
) -> anyhow::Result<()> {
    let caller = Caller::cli();
    match command {
        TenantCommand::Create {
            name,
            allow_duplicate_name,
        } => {
            let name = TenantName::parse(name).map_err(|e| anyhow::anyhow!("--name {e}"))?;
            if !allow_duplicate_name
                && let Some(same) = tenant_named(directory, &caller, &name).await?
            {
                anyhow::bail!(
                    "tenant {} is already named {:?}; give another name, or \
                     --allow-duplicate-name",
                    same.id,
                    same.name
                );
            }
            let tenant = directory
                .create_tenant(&caller, name)
                .await
                .map_err(refusal)?;
            created(output, &tenant)?;
        }
        TenantCommand::List => {
            let mut out = Printer::<Tenant>::new(output);
            let mut page = chunk();
            loop {
                let tenants = directory
                    .list_tenants(&caller, page)
                    .await
                    .map_err(refusal)?;
                out.rows(&tenants.items)?;
                match tenants.next {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
        }
        TenantCommand::Delete { tenant, yes } => {
            let id = tenant_id(&tenant)?;
            let tenant = directory.get_tenant(&caller, id).await.map_err(refusal)?;
            if !yes {
                anyhow::bail!(
                    "this deletes tenant {} ({:?}) with every user, group, membership, API key \
                     and audit event of it; repeat with --yes to delete it",
                    tenant.id,
                    tenant.name
                );
            }
            directory
                .delete_tenant(&caller, id, Precondition::None)
                .await
                .map_err(refusal)?;
            eprintln!("roster: deleted tenant {id} ({:?})", tenant.name);
        }
    }
    Ok(())
}

/// A tenant whose name is `name`'s, compared as names are compared for uniqueness:
/// in any letter case.
async fn tenant_named(
    directory: &Directory,
    caller: &Caller,
    name: &TenantName,
) -> anyhow::Result<Option<Tenant>> {
    let wanted = fold_case(name.as_str().trim());
    let mut page = chunk();
    loop {
        let tenants = directory
            .list_tenants(caller, page)
            .await
            .map_err(refusal)?;
        if let Some(same) = (tenants.items.into_iter()).find(|t| fold_case(t.name.trim()) == wanted)
        {
            return Ok(Some(same));
        }
        match tenants.next {
            Some(next) => page.after = Some(next),
            None => return Ok(None),
        }
    }
}

async fn user(directory: &Directory, command: UserCommand, output: Output) -> anyhow::Result<()> {
    let caller = Caller::cli();
    match command {
        UserCommand::List { tenant, query } => {
            let tenant = tenant_id(&tenant)?;
            let filter = match query {
                Some(q) => {
                    PrefixRange::parse(&q).map_err(|e| anyhow::anyhow!("--query {e}"))?;
                    Filter::name_or_email_starts_with(&q)
                }
                None => Filter::Constant(true),
            };
            let chunks = directory
                .stream_users(&caller, tenant, filter, Include::Nothing)
                .await
                .map_err(refusal)?;
            let mut chunks = std::pin::pin!(chunks);
            let mut out = Printer::<User>::new(output);
            while let Some(chunk) = chunks.try_next().await.map_err(refusal)? {
                let users: Vec<User> = chunk.into_iter().map(|u| u.user).collect();
                out.rows(&users)?;
            }
        }
        UserCommand::Create {
            tenant,
            email,
            first_name,
            last_name,
            role,
            password_stdin,
        } => {
            let tenant = tenant_id(&tenant)?;
            let password = if password_stdin {
                let password = read_password()?;
                Some(
                    directory
                        .password_policy()
                        .parse(password)
                        .map_err(|e| anyhow::anyhow!("the password (from stdin) {e}"))?,
                )
            } else {
                None
            };
            let role = match role {
                UserRoleArg::Admin => Role::Admin,
                UserRoleArg::Member => Role::Member,
            };
            let new = NewUser {
                email: Email::parse(email).map_err(|e| anyhow::anyhow!("--email {e}"))?,
                user_name: None,
                first_name: PersonName::parse(first_name)
                    .map_err(|e| anyhow::anyhow!("--first-name {e}"))?,
                last_name: PersonName::parse(last_name)
                    .map_err(|e| anyhow::anyhow!("--last-name {e}"))?,
                profile: Profile::default(),
                role,
                status: Status::Active,
                external_id: None,
                password,
                password_hash: None,
                attributes: Default::default(),
            };
            let user = directory
                .create_user(&caller, tenant, new)
                .await
                .map_err(refusal)?;
            created(output, &user)?;
        }
        UserCommand::Disable { tenant, user } => {
            set_status(directory, &tenant, &user, Status::Disabled).await?;
        }
        UserCommand::Enable { tenant, user } => {
            set_status(directory, &tenant, &user, Status::Active).await?;
        }
        UserCommand::Delete { tenant, user } => {
            let (tenant, user) = (tenant_id(&tenant)?, user_id(&user)?);
            directory
                .delete_user(&caller, tenant, user, Precondition::None)
                .await
                .map_err(refusal)?;
            eprintln!("roster: deleted user {user}");
        }
    }
    Ok(())
}

async fn set_status(
    directory: &Directory,
    tenant: &str,
    user: &str,
    status: Status,
) -> anyhow::Result<()> {
    let (tenant, user) = (tenant_id(tenant)?, user_id(user)?);
    let patch = UserPatch {
        status: Some(status),
        ..UserPatch::default()
    };
    let changed = directory
        .update_user(&Caller::cli(), tenant, user, patch, Precondition::None)
        .await
        .map_err(refusal)?;
    eprintln!(
        "roster: user {} ({}) is {}",
        changed.id, changed.email, changed.status
    );
    Ok(())
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("roster: type the password, then Enter (it is shown as you type)");
    }
    let mut line = String::new();
    // A bounded read: a password is at most a few hundred bytes.
    stdin
        .lock()
        .take(64 * 1024)
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    if password.is_empty() {
        anyhow::bail!("--password-stdin: standard input holds no password");
    }
    Ok(password.to_owned())
}

async fn group(directory: &Directory, command: GroupCommand, output: Output) -> anyhow::Result<()> {
    let caller = Caller::cli();
    match command {
        GroupCommand::List { tenant } => {
            let tenant = tenant_id(&tenant)?;
            let mut out = Printer::<Group>::new(output);
            let mut page = chunk();
            loop {
                let groups = directory
                    .list_groups(&caller, tenant, page)
                    .await
                    .map_err(refusal)?;
                out.rows(&groups.items)?;
                match groups.next {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
        }
        GroupCommand::Create {
            tenant,
            name,
            description,
        } => {
            let tenant = tenant_id(&tenant)?;
            let new = NewGroup {
                name: GroupName::parse(name).map_err(|e| anyhow::anyhow!("--name {e}"))?,
                description: Description::parse(description)
                    .map_err(|e| anyhow::anyhow!("--description {e}"))?,
                owner: GroupOwner::Local,
                federated_attribute_values: Vec::new(),
                external_id: None,
            };
            let group = directory
                .create_group(&caller, tenant, new)
                .await
                .map_err(refusal)?;
            created(output, &group)?;
        }
        GroupCommand::Delete { tenant, group } => {
            let (tenant, group) = (tenant_id(&tenant)?, group_id(&group, "--group")?);
            directory
                .delete_group(&caller, tenant, group, Precondition::None)
                .await
                .map_err(refusal)?;
            eprintln!("roster: deleted group {group}");
        }
        GroupCommand::AddMember(member) => {
            let (tenant, group, member) = member.parse()?;
            match member {
                Member::User(user) => directory.add_member(&caller, tenant, group, user).await,
                Member::Group(inner) => {
                    directory
                        .add_member_group(&caller, tenant, group, inner)
                        .await
                }
            }
            .map_err(refusal)?;
            eprintln!("roster: {member} is a member of group {group}");
        }
        GroupCommand::RemoveMember(member) => {
            let (tenant, group, member) = member.parse()?;
            match member {
                Member::User(user) => directory.remove_member(&caller, tenant, group, user).await,
                Member::Group(inner) => {
                    directory
                        .remove_member_group(&caller, tenant, group, inner)
                        .await
                }
            }
            .map_err(refusal)?;
            eprintln!("roster: {member} is no longer a member of group {group}");
        }
    }
    Ok(())
}

/// The member a membership command names.
#[derive(Debug, Clone, Copy)]
enum Member {
    User(UserId),
    Group(GroupId),
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Member::User(user) => write!(f, "user {user}"),
            Member::Group(group) => write!(f, "group {group}"),
        }
    }
}

impl MemberArgs {
    fn parse(&self) -> anyhow::Result<(TenantId, GroupId, Member)> {
        let tenant = tenant_id(&self.tenant)?;
        let group = group_id(&self.group, "--group")?;
        let member = match (&self.user, &self.member_group) {
            (Some(user), None) => Member::User(user_id(user)?),
            (None, Some(inner)) => Member::Group(group_id(inner, "--member-group")?),
            _ => anyhow::bail!("name the member: --user or --member-group"),
        };
        Ok((tenant, group, member))
    }
}

async fn api_key(
    directory: &Directory,
    command: ApiKeyCommand,
    output: Output,
) -> anyhow::Result<()> {
    let caller = Caller::cli();
    match command {
        ApiKeyCommand::Create {
            tenant,
            role,
            name,
            description,
            expires_at,
        } => {
            let tenant = tenant_id(&tenant)?;
            let new = NewApiKey {
                name: KeyName::parse(name).map_err(|e| anyhow::anyhow!("--name {e}"))?,
                description: Description::parse(description)
                    .map_err(|e| anyhow::anyhow!("--description {e}"))?,
                role: match role {
                    KeyRoleArg::Admin => ApiKeyRole::Admin,
                    KeyRoleArg::Reader => ApiKeyRole::Reader,
                },
                expires_at: expires_at
                    .as_deref()
                    .map(Timestamp::parse_rfc3339)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--expires-at {e}"))?,
            };
            let created = directory
                .create_api_key(&caller, tenant, new)
                .await
                .map_err(refusal)?;
            eprintln!(
                "roster: created API key {} (role {}); its secret is shown this once",
                created.key.id, created.key.role
            );
            let secret = created.secret.expose_secret();
            let mut stdout = std::io::stdout().lock();
            if output.json {
                let mut shown = created.key.to_json();
                shown["secret"] = Value::from(secret);
                writeln!(stdout, "{shown}")?;
            } else {
                writeln!(stdout, "{secret}")?;
            }
            stdout.flush()?;
        }
        ApiKeyCommand::List { tenant } => {
            let tenant = tenant_id(&tenant)?;
            let mut out = Printer::<ApiKey>::new(output);
            let mut page = chunk();
            loop {
                let keys = directory
                    .list_api_keys(&caller, tenant, page)
                    .await
                    .map_err(refusal)?;
                out.rows(&keys.items)?;
                match keys.next {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
        }
        ApiKeyCommand::Revoke { tenant, key } => {
            let tenant = tenant_id(&tenant)?;
            let key = ApiKeyId::parse(&key).map_err(|e| anyhow::anyhow!("--key {e}"))?;
            directory
                .revoke_api_key(&caller, tenant, key)
                .await
                .map_err(refusal)?;
            eprintln!("roster: revoked API key {key}");
        }
    }
    Ok(())
}

/// Pages of a list read for printing: large, so that few queries read it all.
fn chunk() -> PageRequest {
    PageRequest {
        limit: PageLimit::new(500).unwrap_or_default(),
        after: None,
    }
}

fn tenant_id(s: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(s).map_err(|e| anyhow::anyhow!("--tenant {e}"))
}

fn user_id(s: &str) -> anyhow::Result<UserId> {
    UserId::parse(s).map_err(|e| anyhow::anyhow!("--user {e}"))
}

fn group_id(s: &str, flag: &str) -> anyhow::Result<GroupId> {
    GroupId::parse(s).map_err(|e| anyhow::anyhow!("{flag} {e}"))
}

/// The service's refusal, worded for the command line: the flag a bad field came
/// from, the conflict's own message, which object was not found.
fn refusal(error: ServiceError) -> anyhow::Error {
    match error {
        ServiceError::NotFound(Resource::Tenant) => anyhow::anyhow!("no tenant has this id"),
        ServiceError::NotFound(Resource::Membership) => {
            anyhow::anyhow!("not found: the member is not directly in the group")
        }
        ServiceError::NotFound(resource) => {
            anyhow::anyhow!("{resource} not found in the tenant")
        }
        ServiceError::Conflict { message, .. } => anyhow::anyhow!("refused: {message}"),
        ServiceError::Invalid(violations) => {
            let reasons: Vec<String> = violations
                .iter()
                .map(|v| format!("{} {}", flag_of(&v.field), v.reason))
                .collect();
            anyhow::anyhow!("refused: {}", reasons.join("; "))
        }
        ServiceError::Internal(cause) => cause.context("internal error"),
        other => anyhow::anyhow!("refused: {other}"),
    }
}

/// The flag a field of the API is given by: `firstName` is `--first-name`.
fn flag_of(field: &str) -> String {
    if field == "password" {
        return "the password (from stdin)".to_owned();
    }
    let mut flag = String::from("--");
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            flag.push('-');
            flag.push(c.to_ascii_lowercase());
        } else {
            flag.push(c);
        }
    }
    flag
}

/// Prints what a create made: its id, or with `--json` the whole object.
fn created<T: Shown>(output: Output, object: &T) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if output.json {
        writeln!(stdout, "{}", object.to_json())?;
    } else {
        writeln!(stdout, "{}", object.id())?;
    }
    stdout.flush()?;
    Ok(())
}

/// An object as a line of the command line's output.
trait Shown {
    /// The column names, printed above the rows on a terminal.
    const HEADER: &'static [&'static str];
    fn id(&self) -> String;
    /// The columns, in `HEADER`'s order. Names hold no tabs or line breaks: every
    /// text type of the domain refuses control characters.
    fn cells(&self) -> Vec<String>;
    /// The object as one JSON object, with the API's field names.
    fn to_json(&self) -> Value;
}

/// Writes objects as they are read, one line each, flushed after every batch.
struct Printer<T> {
    json: bool,
    header: bool,
    out: std::io::BufWriter<std::io::Stdout>,
    shown: std::marker::PhantomData<T>,
}

impl<T: Shown> Printer<T> {
    fn new(output: Output) -> Self {
        Self {
            json: output.json,
            header: !output.json && std::io::stdout().is_terminal(),
            out: std::io::BufWriter::new(std::io::stdout()),
            shown: std::marker::PhantomData,
        }
    }

    fn rows(&mut self, objects: &[T]) -> std::io::Result<()> {
        if std::mem::take(&mut self.header) {
            writeln!(self.out, "{}", T::HEADER.join("\t"))?;
        }
        for object in objects {
            if self.json {
                writeln!(self.out, "{}", object.to_json())?;
            } else {
                writeln!(self.out, "{}", object.cells().join("\t"))?;
            }
        }
        self.out.flush()
    }
}

fn time(at: Option<Timestamp>) -> String {
    at.map(|at| at.rfc3339()).unwrap_or_default()
}

impl Shown for Tenant {
    const HEADER: &'static [&'static str] = &["ID", "NAME"];

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn cells(&self) -> Vec<String> {
        vec![self.id(), self.name.clone()]
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

impl Shown for User {
    const HEADER: &'static [&'static str] =
        &["ID", "EMAIL", "FIRST NAME", "LAST NAME", "ROLE", "STATUS"];

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.id(),
            self.email.clone(),
            self.first_name.clone(),
            self.last_name.clone(),
            self.role.to_string(),
            self.status.to_string(),
        ]
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "email": self.email,
            "userName": self.user_name(),
            "firstName": self.first_name,
            "lastName": self.last_name,
            "role": self.role,
            "status": self.status,
            "externalId": self.external_id,
            "defaultGroupId": self.default_group_id,
            "hasPassword": self.has_password,
            "twoFactorEnabled": self.two_factor_enabled,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

impl Shown for Group {
    const HEADER: &'static [&'static str] = &["ID", "NAME", "DESCRIPTION"];

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn cells(&self) -> Vec<String> {
        vec![self.id(), self.name.clone(), self.description.clone()]
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "name": self.name,
            "description": self.description,
            "owner": self.owner,
            "externalId": self.external_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

impl Shown for ApiKey {
    const HEADER: &'static [&'static str] = &[
        "ID",
        "NAME",
        "ROLE",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "REVOKED",
    ];

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.id(),
            self.name.clone(),
            self.role.to_string(),
            self.created_at.rfc3339(),
            time(self.expires_at),
            time(self.last_used_at),
            time(self.revoked_at),
        ]
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "name": self.name,
            "description": self.description,
            "role": self.role,
            "createdAt": self.created_at,
            "expiresAt": self.expires_at,
            "lastUsedAt": self.last_used_at,
            "revokedAt": self.revoked_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_s_field_names_become_the_cli_s_flags() {
        assert_eq!(flag_of("email"), "--email");
        assert_eq!(flag_of("firstName"), "--first-name");
        assert_eq!(flag_of("expiresAt"), "--expires-at");
        assert!(!flag_of("password").starts_with("--"));
    }

    #[test]
    fn refusals_name_what_was_refused() {
        let conflict = refusal(ServiceError::Conflict {
            field: "email",
            message: "a user with this email already exists in the tenant".into(),
        });
        assert!(format!("{conflict:#}").contains("already exists"));
        let invalid = refusal(ServiceError::invalid("lastName", "must not be long"));
        assert_eq!(
            format!("{invalid:#}"),
            "refused: --last-name must not be long"
        );
        let missing = refusal(ServiceError::NotFound(Resource::User));
        assert_eq!(format!("{missing:#}"), "user not found in the tenant");
    }
}
