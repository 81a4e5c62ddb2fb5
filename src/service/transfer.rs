//! Bringing a directory in: an [`Importer`] applies batches of records, whatever
//! file format they were read from, matching each to what the tenant already holds
//! (users by external id, else by email; groups by name), so that an import that
//! stopped can be run again.
//!
//! A batch is one transaction (or, for a dry run or an atomic import, one savepoint
//! within the import's single transaction). Its new users are written in multi-row
//! statements and audited as one `directory.import` event; a change of a stored user
//! goes through the same path as any other, audited as a `user.update`. Lines refused
//! by a check are refused before anything is written; a batch the database refuses
//! (a clash with a concurrent writer) is gone through again one line at a time, each
//! behind its own savepoint, so that only the line at fault fails.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, AttributeDefinition, FieldViolation, Group, GroupId, GroupKey, GroupName, GroupRecord,
    ImportOptions, ImportSummary, LineOutcome, Member, MemberKey, MemberRecord, NewAttribute,
    NewUser, Outcome, Patch, Record, RecordKind, TargetKind, TenantId, Timestamp, User, UserId,
    UserPatch, UserRecord, fold_case,
};
use crate::store::{Tx, UserKeys};

use super::attributes::{declare_attribute, store_attribute_values};
use super::changes::{group_updated, user_created, user_touched, user_updated};
use super::groups::{group_record, insert_group};
use super::memberships::{Delta, audit_members, write_delta};
use super::users::{user_record, write_user_change};
use super::{Access, Directory, ServiceError, ServiceResult, audit};

/// What a batch made that later batches may name: groups by folded name, and
/// objects by the id the source gave them. Kept only once the batch is.
#[derive(Debug, Default)]
struct Known {
    groups: HashMap<String, GroupId>,
    sources: HashMap<String, Member>,
}

/// An import in progress into one tenant.
pub struct Importer {
    directory: Directory,
    caller: Caller,
    tenant: TenantId,
    options: ImportOptions,
    /// The open transaction: the whole import's, for a dry run or an atomic one;
    /// otherwise the current batch's.
    tx: Option<Tx>,
    declared: Vec<AttributeDefinition>,
    known: Known,
    /// The keys (folded emails and userNames, external ids) of the users the lines
    /// of the batch at hand brought in so far: a later line naming one of them is
    /// refused, whether the batch is written at once or line by line.
    claimed: HashSet<String>,
    summary: ImportSummary,
    stopped: bool,
    /// How many records the import had created when the planner's statistics
    /// were last refreshed.
    analyzed_at: u64,
}

/// Whether an error is the line's fault (refused, named again, in a cycle), rather
/// than the database's or the import's.
fn refusal(error: &ServiceError) -> Option<Vec<FieldViolation>> {
    let one = |field: &str, reason: String| {
        Some(vec![FieldViolation {
            field: field.to_owned(),
            reason,
        }])
    };
    match error {
        ServiceError::Invalid(violations) => Some(violations.clone()),
        ServiceError::Conflict { field, message } => one(field, message.clone()),
        ServiceError::Cycle(cycle) => one("parents", cycle.to_string()),
        ServiceError::NotFound(what) => one("", format!("{what} not found")),
        _ => None,
    }
}

impl Directory {
    /// Starts an import into `tenant`; the caller must be allowed to write there.
    pub async fn importer(
        &self,
        caller: &Caller,
        tenant: TenantId,
        options: ImportOptions,
    ) -> ServiceResult<Importer> {
        self.authorize(caller, tenant, Access::Write).await?;
        Ok(Importer {
            directory: self.clone(),
            caller: caller.clone(),
            tenant,
            options,
            tx: None,
            declared: self.store.list_attributes(tenant).await?,
            known: Known::default(),
            claimed: HashSet::new(),
            summary: ImportSummary::default(),
            stopped: false,
            analyzed_at: 0,
        })
    }
}

impl Importer {
    /// How the import runs.
    pub fn options(&self) -> ImportOptions {
        self.options
    }

    /// How many lines came to what so far.
    pub fn summary(&self) -> &ImportSummary {
        &self.summary
    }

    /// Whether the import has stopped: an atomic one met a refused line, and
    /// nothing of it is kept.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Applies one batch of lines (each a record, or the reasons it could not be
    /// read) and answers what became of each, in order.
    pub async fn apply(
        &mut self,
        batch: Vec<(u64, Result<Record, Vec<FieldViolation>>)>,
    ) -> ServiceResult<Vec<LineOutcome>> {
        if self.stopped {
            return Ok(Vec::new());
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
        let mut records = Vec::with_capacity(batch.len());
        for (i, (_, line)) in batch.iter().enumerate() {
            match line {
                Ok(record) => records.push((i, record)),
                Err(errors) => {
                    outcomes[i] = Some(Outcome::Failed {
                        errors: errors.clone(),
                    })
                }
            }
        }
        let mut tx = match self.tx.take() {
            Some(tx) => tx,
            None => {
                let mut tx = self.directory.store.begin().await?;
                tx.begin_bulk_writes().await?;
                tx
            }
        };
        tx.savepoint("import_batch").await?;
        let mut known = Known::default();
        self.claimed.clear();
        match self.write(&mut tx, &mut known, &records).await {
            Ok(written) => {
                for ((i, _), outcome) in records.iter().zip(written) {
                    outcomes[*i] = Some(outcome);
                }
            }
            Err(error) if refusal(&error).is_some() => {
                // The database refused the batch: again line by line, to find the one.
                tx.rollback_to_savepoint("import_batch").await?;
                known = Known::default();
                self.claimed.clear();
                for (i, record) in &records {
                    tx.savepoint("import_line").await?;
                    let mut line_known = Known::default();
                    let one = [(*i, *record)];
                    let outcome = match self.write(&mut tx, &mut line_known, &one).await {
                        Ok(mut written) => {
                            known.groups.extend(line_known.groups);
                            known.sources.extend(line_known.sources);
                            written.pop().unwrap_or(Outcome::Skipped {
                                reason: "nothing to do".into(),
                            })
                        }
                        Err(error) => match refusal(&error) {
                            Some(errors) => {
                                tx.rollback_to_savepoint("import_line").await?;
                                Outcome::Failed { errors }
                            }
                            None => return Err(error),
                        },
                    };
                    tx.release_savepoint("import_line").await?;
                    outcomes[*i] = Some(outcome);
                }
            }
            Err(error) => return Err(error),
        }
        let outcomes: Vec<LineOutcome> = (batch.iter().zip(outcomes))
            .map(|((line, _), outcome)| LineOutcome {
                line: *line,
                outcome: outcome.unwrap_or(Outcome::Skipped {
                    reason: "nothing to do".into(),
                }),
            })
            .collect();
        if self.options.atomic && outcomes.iter().any(|o| o.outcome.is_failure()) {
            // Nothing of an atomic import that meets a refused line is kept.
            drop(tx);
            self.stopped = true;
            let failed: Vec<LineOutcome> = outcomes
                .into_iter()
                .filter(|o| o.outcome.is_failure())
                .collect();
            for outcome in &failed {
                self.summary.count(&outcome.outcome);
            }
            return Ok(failed);
        }
        tx.release_savepoint("import_batch").await?;
        self.known.groups.extend(known.groups);
        self.known.sources.extend(known.sources);
        for outcome in &outcomes {
            self.summary.count(&outcome.outcome);
        }
        if self.options.dry_run || self.options.atomic {
            self.tx = Some(tx);
        } else {
            tx.commit().await?;
            self.directory.declared.forget(&self.tenant);
            if self.summary.created > 2 * self.analyzed_at {
                // The lookups of later batches are planned by statistics taken
                // before this import: each time it has doubled what they knew of,
                // they are taken again, so that they stay index searches.
                self.directory.store.refresh_statistics().await?;
                self.analyzed_at = self.summary.created;
            }
        }
        Ok(outcomes)
    }

    /// Ends the import: an atomic one commits everything, a dry run nothing.
    pub async fn finish(mut self) -> ServiceResult<ImportSummary> {
        if let Some(tx) = self.tx.take()
            && !self.options.dry_run
            && !self.stopped
        {
            tx.commit().await?;
            self.directory.declared.forget(&self.tenant);
        }
        self.directory.store.end_bulk_writes().await?;
        Ok(self.summary)
    }

    /// Ends an import that failed: what it holds uncommitted is undone.
    pub async fn abandon(mut self) {
        drop(self.tx.take());
        if let Err(error) = self.directory.store.end_bulk_writes().await {
            tracing::warn!(%error, "the database's settings for imports were not undone");
        }
    }

    /// Writes `records` (runs of one kind at a time, in order) and answers each one's
    /// outcome. A line refused by a check is refused before anything of it is
    /// written; an error is the database refusing what the checks let through.
    async fn write(
        &mut self,
        tx: &mut Tx,
        known: &mut Known,
        records: &[(usize, &Record)],
    ) -> ServiceResult<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(records.len());
        let mut start = 0;
        while start < records.len() {
            let kind = std::mem::discriminant(records[start].1);
            let end = (start..records.len())
                .find(|&i| std::mem::discriminant(records[i].1) != kind)
                .unwrap_or(records.len());
            let run: Vec<&Record> = records[start..end].iter().map(|(_, r)| *r).collect();
            match run[0] {
                Record::Attribute(_) => {
                    for record in run {
                        if let Record::Attribute(new) = record {
                            outcomes.push(self.write_attribute(tx, new).await?);
                        }
                    }
                }
                Record::Group(_) => {
                    let groups: Vec<&GroupRecord> = (run.iter())
                        .filter_map(|r| match r {
                            Record::Group(g) => Some(g.as_ref()),
                            _ => None,
                        })
                        .collect();
                    outcomes.extend(self.write_groups(tx, known, &groups).await?);
                }
                Record::User(_) => {
                    let users: Vec<&UserRecord> = (run.iter())
                        .filter_map(|r| match r {
                            Record::User(u) => Some(u.as_ref()),
                            _ => None,
                        })
                        .collect();
                    outcomes.extend(self.write_users(tx, known, &users).await?);
                }
                Record::Member(_) => {
                    let members: Vec<&MemberRecord> = (run.iter())
                        .filter_map(|r| match r {
                            Record::Member(m) => Some(m),
                            _ => None,
                        })
                        .collect();
                    outcomes.extend(self.write_members(tx, known, &members).await?);
                }
                Record::Skip(reason) => {
                    outcomes.extend(run.iter().map(|_| Outcome::Skipped {
                        reason: (*reason).to_owned(),
                    }));
                }
            }
            start = end;
        }
        Ok(outcomes)
    }

    /// Declares an attribute the tenant does not declare yet.
    async fn write_attribute(&mut self, tx: &mut Tx, new: &NewAttribute) -> ServiceResult<Outcome> {
        let key = fold_case(new.name.as_str());
        if let Some(declared) = self.declared.iter().find(|a| a.key() == key) {
            let same = declared.kind == new.kind
                && declared.multi_valued == new.multi_valued
                && declared.unique == new.unique
                && declared.case_exact == new.case_exact;
            return Ok(if same {
                Outcome::Unchanged {
                    kind: RecordKind::Attribute,
                    id: uuid::Uuid::nil(),
                }
            } else {
                Outcome::failed(
                    "name",
                    "the tenant declares this attribute already, with another type, \
                     multiplicity, uniqueness or case rule",
                )
            });
        }
        let attribute = declare_attribute(tx, &self.caller, self.tenant, new.clone()).await?;
        self.declared.push(attribute);
        Ok(Outcome::Created {
            kind: RecordKind::Attribute,
            id: uuid::Uuid::nil(),
        })
    }

    /// The ids of the groups named, making those the tenant does not have yet (as
    /// local groups without a description).
    async fn group_ids(
        &self,
        tx: &mut Tx,
        known: &mut Known,
        names: &[&GroupName],
        now: Timestamp,
    ) -> ServiceResult<HashMap<String, GroupId>> {
        let mut ids = HashMap::new();
        let mut unknown = Vec::new();
        for name in names {
            let key = fold_case(name.as_str());
            match known.groups.get(&key).or(self.known.groups.get(&key)) {
                Some(id) => {
                    ids.insert(key, *id);
                }
                None if !ids.contains_key(&key) && !unknown.contains(&key) => unknown.push(key),
                None => {}
            }
        }
        if unknown.is_empty() {
            return Ok(ids);
        }
        for group in tx.groups_named(self.tenant, &unknown).await? {
            let key = fold_case(&group.name);
            known.groups.insert(key.clone(), group.id);
            ids.insert(key, group.id);
        }
        for name in names {
            let key = fold_case(name.as_str());
            if ids.contains_key(&key) {
                continue;
            }
            let group = group_record(
                self.tenant,
                crate::domain::NewGroup {
                    name: (*name).clone(),
                    description: crate::domain::Description::empty(),
                    owner: crate::domain::GroupOwner::Local,
                    federated_attribute_values: Vec::new(),
                    external_id: None,
                },
                now,
            );
            insert_group(tx, &self.caller, &group).await?;
            known.groups.insert(key.clone(), group.id);
            ids.insert(key, group.id);
        }
        Ok(ids)
    }

    /// Groups, matched by name: made, or brought to what the record says; then
    /// put within their parents, refusing a record whose parents would close a cycle.
    async fn write_groups(
        &mut self,
        tx: &mut Tx,
        known: &mut Known,
        records: &[&GroupRecord],
    ) -> ServiceResult<Vec<Outcome>> {
        let now = Timestamp::now();
        let keys: Vec<String> = records
            .iter()
            .map(|r| fold_case(r.group.name.as_str()))
            .collect();
        let mut stored: HashMap<String, Group> = HashMap::new();
        for group in tx.groups_named(self.tenant, &keys).await? {
            stored.insert(fold_case(&group.name), group);
        }
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(records.len());
        let mut ids: Vec<Option<GroupId>> = Vec::with_capacity(records.len());
        let mut seen = HashSet::new();
        for (record, key) in records.iter().zip(&keys) {
            if !seen.insert(key.clone()) {
                outcomes.push(Outcome::failed(
                    "name",
                    "an earlier line of the same batch names this group",
                ));
                ids.push(None);
                continue;
            }
            let new = &record.group;
            let (outcome, id) = match stored.remove(key) {
                Some(mut group) => {
                    let description = new.description.as_str().to_owned();
                    let external_id = new.external_id.as_ref().map(|e| e.as_str().to_owned());
                    let id = group.id;
                    if group.description == description && group.external_id == external_id {
                        let unchanged = Outcome::Unchanged {
                            kind: RecordKind::Group,
                            id: id.as_uuid(),
                        };
                        (unchanged, id)
                    } else {
                        let expected = group.version;
                        let before = group.clone();
                        group.description = description;
                        group.external_id = external_id;
                        group.version += 1;
                        group.updated_at = now;
                        super::applied(tx.update_group(&group, expected).await?)?;
                        let fields: Vec<&str> = [
                            (before.description != group.description, "description"),
                            (before.external_id != group.external_id, "externalId"),
                        ]
                        .into_iter()
                        .filter_map(|(changed, name)| changed.then_some(name))
                        .collect();
                        audit(
                            tx,
                            &self.caller,
                            self.tenant,
                            Action::GroupUpdate,
                            (TargetKind::Group, id.to_string()),
                            json!({ "fields": fields }),
                        )
                        .await?;
                        tx.record_changes([group_updated(&self.caller, &before, &group)]);
                        let updated = Outcome::Updated {
                            kind: RecordKind::Group,
                            id: id.as_uuid(),
                        };
                        (updated, id)
                    }
                }
                None => {
                    let mut group = group_record(self.tenant, new.clone(), now);
                    if let Some(id) = record.id
                        && tx
                            .existing_group_ids(self.tenant, &[id.as_uuid()])
                            .await?
                            .is_empty()
                    {
                        group.id = id;
                    }
                    if let Some(created) = record.created_at {
                        group.created_at = created;
                    }
                    insert_group(tx, &self.caller, &group).await?;
                    let created = Outcome::Created {
                        kind: RecordKind::Group,
                        id: group.id.as_uuid(),
                    };
                    (created, group.id)
                }
            };
            known.groups.insert(key.clone(), id);
            if let Some(source) = &record.source_id {
                known.sources.insert(source.clone(), Member::Group(id));
            }
            ids.push(Some(id));
            outcomes.push(outcome);
        }
        // Then the nesting: parents named (made when missing), checked for cycles
        // in one change of the hierarchy.
        let parents: Vec<&GroupName> = records.iter().flat_map(|r| &r.parents).collect();
        if parents.is_empty() {
            return Ok(outcomes);
        }
        let parent_ids = self.group_ids(tx, known, &parents, now).await?;
        let edges: Vec<Vec<(GroupId, GroupId)>> = (records.iter().zip(&ids))
            .map(|(record, id)| match id {
                Some(id) => (record.parents.iter())
                    .filter_map(|p| parent_ids.get(&fold_case(p.as_str())))
                    .map(|parent| (*parent, *id))
                    .collect(),
                None => Vec::new(),
            })
            .collect();
        tx.lock_memberships(self.tenant, true).await?;
        let hierarchy = tx.hierarchy(self.tenant).await?;
        let mut refused: BTreeSet<usize> = BTreeSet::new();
        let change = loop {
            let all: Vec<(GroupId, GroupId)> = (edges.iter().enumerate())
                .filter(|(i, _)| !refused.contains(i))
                .flat_map(|(_, e)| e.iter().copied())
                .collect();
            match hierarchy.change(&all, &[]) {
                Ok(change) => break change,
                Err(cycle) => {
                    let at = edges
                        .iter()
                        .position(|e| e.contains(&(cycle.group, cycle.member)));
                    match at {
                        Some(at) if refused.insert(at) => {
                            outcomes[at] = Outcome::failed("parents", cycle.to_string());
                        }
                        _ => return Err(ServiceError::Cycle(cycle)),
                    }
                }
            }
        };
        if !refused.is_empty() {
            // A refused line writes nothing: the batch goes again, line by line.
            return Err(ServiceError::invalid(
                "parents",
                "a group's parents would close a cycle",
            ));
        }
        if !change.is_empty() {
            tx.write_hierarchy_change(self.tenant, &change, now).await?;
            audit_members(tx, &self.caller, self.tenant, &Delta::default(), &change).await?;
            for ((outcome, record_edges), id) in outcomes.iter_mut().zip(&edges).zip(&ids) {
                if let (Outcome::Unchanged { .. }, Some(id)) = (&outcome, id)
                    && record_edges.iter().any(|e| change.added.contains(e))
                {
                    *outcome = Outcome::Updated {
                        kind: RecordKind::Group,
                        id: id.as_uuid(),
                    };
                }
            }
        }
        Ok(outcomes)
    }

    /// Users: matched by external id, else by email; new ones written in multi-row
    /// statements, stored ones changed to what the record says; then their groups.
    async fn write_users(
        &mut self,
        tx: &mut Tx,
        known: &mut Known,
        records: &[&UserRecord],
    ) -> ServiceResult<Vec<Outcome>> {
        let now = Timestamp::now();
        let tenant = self.tenant;
        let email_keys: Vec<String> = records
            .iter()
            .map(|r| fold_case(r.user.email.as_str()))
            .collect();
        let name_keys: Vec<String> = (records.iter().zip(&email_keys))
            .map(|(r, email)| match &r.user.user_name {
                Some(name) => fold_case(name.as_str()),
                None => email.clone(),
            })
            .collect();
        let external_ids: Vec<String> = records
            .iter()
            .filter_map(|r| r.user.external_id.as_ref().map(|e| e.as_str().to_owned()))
            .collect();
        let mut keys: Vec<String> = email_keys.iter().chain(&name_keys).cloned().collect();
        keys.sort();
        keys.dedup();
        let holders = tx.users_holding(tenant, &keys, &external_ids).await?;

        enum Plan {
            Create(usize),
            Change(UserId),
            Refused(Outcome),
        }
        let mut plans = Vec::with_capacity(records.len());
        let mut claimed: HashSet<&str> = HashSet::new();
        for (i, record) in records.iter().enumerate() {
            let (email, name) = (&email_keys[i], &name_keys[i]);
            let external = record.user.external_id.as_ref().map(|e| e.as_str());
            let named_before = [Some(email.as_str()), Some(name.as_str()), external]
                .into_iter()
                .flatten()
                .any(|key| claimed.contains(key) || self.claimed.contains(key));
            if named_before {
                plans.push(Plan::Refused(Outcome::failed(
                    "email",
                    "an earlier record of the same batch names the same user (its email, \
                     userName or externalId)",
                )));
                continue;
            }
            for key in [Some(email.as_str()), Some(name.as_str()), external]
                .into_iter()
                .flatten()
            {
                claimed.insert(key);
            }
            let matched: Option<&UserKeys> = external
                .and_then(|x| holders.iter().find(|h| h.external_id.as_deref() == Some(x)))
                .or_else(|| holders.iter().find(|h| h.email_key == *email));
            let clash = holders.iter().find(|h| {
                Some(h.id) != matched.map(|m| m.id)
                    && (h.email_key == *email
                        || h.user_name_key == *email
                        || h.email_key == *name
                        || h.user_name_key == *name
                        || (external.is_some() && h.external_id.as_deref() == external))
            });
            plans.push(match (matched, clash) {
                (_, Some(clash)) => Plan::Refused(Outcome::failed(
                    if clash.email_key == *email || clash.user_name_key == *email {
                        "email"
                    } else if clash.external_id.as_deref() == external && external.is_some() {
                        "externalId"
                    } else {
                        "userName"
                    },
                    "another user of the tenant has this email, userName or externalId",
                )),
                (Some(matched), None) => Plan::Change(matched.id),
                (None, None) => Plan::Create(i),
            });
        }

        // New users, in multi-row statements; a record's id is kept when free.
        let wanted: Vec<uuid::Uuid> = (plans.iter())
            .filter_map(|p| match p {
                Plan::Create(i) => records[*i].id.map(|id| id.as_uuid()),
                _ => None,
            })
            .collect();
        let taken: HashSet<UserId> = if wanted.is_empty() {
            HashSet::new()
        } else {
            tx.existing_user_ids(tenant, &wanted)
                .await?
                .into_iter()
                .collect()
        };
        let mut creates: Vec<(User, Option<String>)> = Vec::new();
        let mut created_at: Vec<usize> = Vec::new();
        let mut refused_now: Vec<(usize, Outcome)> = Vec::new();
        for plan in &plans {
            let Plan::Create(i) = plan else { continue };
            let record = records[*i];
            match self.new_user(record, now, &taken).await {
                Ok(created) => {
                    creates.push(created);
                    created_at.push(*i);
                }
                Err(error) => match refusal(&error) {
                    Some(errors) => refused_now.push((*i, Outcome::Failed { errors })),
                    None => return Err(error),
                },
            }
        }
        for (i, outcome) in refused_now {
            plans[i] = Plan::Refused(outcome);
        }
        if !creates.is_empty() {
            tx.insert_users(&creates, true).await?;
            for (user, _) in &creates {
                if !user.attributes.is_empty() {
                    let named: Vec<String> = user.attributes.keys().cloned().collect();
                    store_attribute_values(
                        tx,
                        tenant,
                        user.id,
                        &self.declared,
                        &user.attributes,
                        &named,
                    )
                    .await?;
                }
            }
            let ids: Vec<UserId> = creates.iter().map(|(u, _)| u.id).collect();
            audit(
                tx,
                &self.caller,
                tenant,
                Action::Import,
                (TargetKind::Tenant, tenant.to_string()),
                json!({ "created": ids.len(), "userIds": ids }),
            )
            .await?;
            tx.record_changes(creates.iter().map(|(u, _)| user_created(&self.caller, u)));
        }

        // Stored users, changed through the one path every change takes.
        let matched: Vec<UserId> = (plans.iter())
            .filter_map(|p| match p {
                Plan::Change(id) => Some(*id),
                _ => None,
            })
            .collect();
        let mut stored: HashMap<UserId, User> = if matched.is_empty() {
            HashMap::new()
        } else {
            (tx.lock_users(tenant, &matched).await?.into_iter())
                .map(|user| (user.id, user))
                .collect()
        };
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(records.len());
        let mut user_ids: Vec<Option<UserId>> = Vec::with_capacity(records.len());
        let mut creates = creates.into_iter().zip(created_at).peekable();
        for (i, plan) in plans.into_iter().enumerate() {
            let (outcome, id) = match plan {
                Plan::Refused(outcome) => (outcome, None),
                Plan::Create(_) => match creates.next_if(|(_, at)| *at == i) {
                    Some(((user, _), _)) => (
                        Outcome::Created {
                            kind: RecordKind::User,
                            id: user.id.as_uuid(),
                        },
                        Some(user.id),
                    ),
                    None => (Outcome::failed("", "the user could not be made"), None),
                },
                Plan::Change(id) => match stored.remove(&id) {
                    Some(current) => (self.change_user(tx, current, records[i]).await?, Some(id)),
                    None => (Outcome::failed("", "the user was deleted meanwhile"), None),
                },
            };
            if let (Some(id), Some(source)) = (id, &records[i].source_id) {
                known.sources.insert(source.clone(), Member::User(id));
            }
            outcomes.push(outcome);
            user_ids.push(id);
        }

        for ((record, outcome), (email, name)) in
            (records.iter().zip(&outcomes)).zip(email_keys.iter().zip(&name_keys))
        {
            if !outcome.is_failure() {
                self.claimed.insert(email.clone());
                self.claimed.insert(name.clone());
                if let Some(external) = &record.user.external_id {
                    self.claimed.insert(external.as_str().to_owned());
                }
            }
        }

        // Their groups, named by the records, made when missing.
        let names: Vec<&GroupName> = (records.iter().zip(&user_ids))
            .filter(|(_, id)| id.is_some())
            .flat_map(|(r, _)| r.groups.iter().chain(&r.default_group))
            .collect();
        if names.is_empty() {
            return Ok(outcomes);
        }
        let group_ids = self.group_ids(tx, known, &names, now).await?;
        let changed: Vec<UserId> = (outcomes.iter().zip(&user_ids))
            .filter(|(o, _)| !matches!(o, Outcome::Created { .. }))
            .filter_map(|(_, id)| *id)
            .collect();
        // The memberships stored, and those added below as they are.
        let mut present: HashSet<(GroupId, UserId)> = if changed.is_empty() {
            HashSet::new()
        } else {
            tx.memberships_of_users(tenant, &changed)
                .await?
                .into_iter()
                .collect()
        };
        let mut add: Vec<(GroupId, UserId)> = Vec::new();
        let mut defaults: Vec<(usize, UserId, GroupId)> = Vec::new();
        for (i, (record, id)) in records.iter().zip(&user_ids).enumerate() {
            let Some(id) = id else { continue };
            for name in record.groups.iter().chain(&record.default_group) {
                if let Some(group) = group_ids.get(&fold_case(name.as_str())) {
                    let pair = (*group, *id);
                    if present.insert(pair) {
                        add.push(pair);
                        if let Outcome::Unchanged { id, .. } = outcomes[i] {
                            outcomes[i] = Outcome::Updated {
                                kind: RecordKind::User,
                                id,
                            };
                        }
                    }
                }
            }
            if let Some(default) = &record.default_group
                && let Some(group) = group_ids.get(&fold_case(default.as_str()))
            {
                defaults.push((i, *id, *group));
            }
        }
        if !add.is_empty() {
            tx.lock_memberships(tenant, false).await?;
            let mut groups: Vec<GroupId> = add.iter().map(|(g, _)| *g).collect();
            groups.sort_by_key(|g| g.as_uuid());
            groups.dedup();
            tx.lock_groups(tenant, &groups).await?;
            let delta = Delta {
                add,
                remove: Vec::new(),
            };
            write_delta(tx, &self.caller, tenant, &delta, now, || {
                ServiceError::invalid("groups", "a group named was deleted meanwhile")
            })
            .await
            .map_err(super::Attempt::into_error)?;
        }
        for (i, user, group) in defaults {
            let current = tx.lock_user(tenant, user).await?;
            if let Some(current) = current.filter(|u| u.default_group_id != Some(group)) {
                tx.set_default_group(tenant, user, Some(group), now).await?;
                let next = User {
                    default_group_id: Some(group),
                    ..current.clone()
                };
                tx.record_changes([user_updated(&self.caller, &current, &next)]);
                if let Outcome::Unchanged { id, .. } = outcomes[i] {
                    outcomes[i] = Outcome::Updated {
                        kind: RecordKind::User,
                        id,
                    };
                }
            }
        }
        Ok(outcomes)
    }

    /// A new user as the record describes it, checked as every new user is.
    async fn new_user(
        &self,
        record: &UserRecord,
        now: Timestamp,
        taken: &HashSet<UserId>,
    ) -> ServiceResult<(User, Option<String>)> {
        let new = record.user.clone();
        let password_hash = match (&new.password, &new.password_hash) {
            (Some(password), _) => Some(self.directory.passwords.hash(password).await?),
            (None, Some(imported)) => Some(imported.as_str().to_owned()),
            (None, None) => None,
        };
        let mut user = user_record(
            self.tenant,
            new,
            &self.declared,
            password_hash.is_some(),
            now,
        )?;
        user.profile
            .check()
            .map_err(|v| ServiceError::invalid(&v.field, v.reason))?;
        if let Some(id) = record.id
            && !taken.contains(&id)
        {
            user.id = id;
        }
        if let Some(created) = record.created_at {
            user.created_at = created;
        }
        Ok((user, password_hash))
    }

    /// Brings a stored user, locked, to what the record says: what the record
    /// restates is no change. Its password, when it has one, stays as it is.
    async fn change_user(
        &self,
        tx: &mut Tx,
        current: User,
        record: &UserRecord,
    ) -> ServiceResult<Outcome> {
        let id = current.id;
        let patch = replacing(record.user.clone()).relative_to(&current);
        let version = current.version;
        let had_password = current.has_password;
        let next = write_user_change(tx, &self.caller, current, patch, &self.declared).await?;
        let mut changed = next.version != version;
        if !had_password {
            let hash = match (&record.user.password, &record.user.password_hash) {
                (Some(password), _) => Some(self.directory.passwords.hash(password).await?),
                (None, Some(imported)) => Some(imported.as_str().to_owned()),
                (None, None) => None,
            };
            if let Some(hash) = hash {
                let now = Timestamp::now();
                tx.set_password_hash(self.tenant, id, &hash, now).await?;
                let version = tx.touch_user(self.tenant, id, now).await?;
                let by = &self.caller;
                tx.record_changes(user_touched(by, self.tenant, id, version, &["password"]));
                changed = true;
            }
        }
        Ok(if changed {
            Outcome::Updated {
                kind: RecordKind::User,
                id: id.as_uuid(),
            }
        } else {
            Outcome::Unchanged {
                kind: RecordKind::User,
                id: id.as_uuid(),
            }
        })
    }

    /// Direct members of groups, named as the source names them: users by email or
    /// by their record's id, groups by name or by their record's id.
    async fn write_members(
        &mut self,
        tx: &mut Tx,
        known: &mut Known,
        records: &[&MemberRecord],
    ) -> ServiceResult<Vec<Outcome>> {
        let now = Timestamp::now();
        let tenant = self.tenant;
        let names: Vec<&GroupName> = records
            .iter()
            .flat_map(|r| {
                let group = match &r.group {
                    GroupKey::Name(name) => Some(name),
                    GroupKey::Source(_) => None,
                };
                let member = match &r.member {
                    MemberKey::Group(GroupKey::Name(name)) => Some(name),
                    _ => None,
                };
                group.into_iter().chain(member)
            })
            .collect();
        let emails: Vec<String> = (records.iter())
            .filter_map(|r| match &r.member {
                MemberKey::UserEmail(email) => Some(fold_case(email.as_str())),
                _ => None,
            })
            .collect();
        let by_email: HashMap<String, UserId> = if emails.is_empty() {
            HashMap::new()
        } else {
            (tx.users_holding(tenant, &emails, &[]).await?)
                .into_iter()
                .map(|h| (h.email_key, h.id))
                .collect()
        };
        let group_ids = if names.is_empty() {
            HashMap::new()
        } else {
            let mut names = names;
            names.dedup();
            self.group_ids(tx, known, &names, now).await?
        };
        let by_source = |source: &str| -> Option<Member> {
            known
                .sources
                .get(source)
                .or(self.known.sources.get(source))
                .copied()
        };
        let group_of = |key: &GroupKey| -> Option<GroupId> {
            match key {
                GroupKey::Name(name) => group_ids.get(&fold_case(name.as_str())).copied(),
                GroupKey::Source(source) => match by_source(source) {
                    Some(Member::Group(id)) => Some(id),
                    _ => None,
                },
            }
        };
        let mut users: Vec<(usize, GroupId, UserId)> = Vec::new();
        let mut groups: Vec<(usize, GroupId, GroupId)> = Vec::new();
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let Some(group) = group_of(&record.group) else {
                outcomes.push(Outcome::failed(
                    "group",
                    "names no group of the tenant or of this import",
                ));
                continue;
            };
            let member = match &record.member {
                MemberKey::UserEmail(email) => by_email
                    .get(&fold_case(email.as_str()))
                    .map(|id| Member::User(*id)),
                MemberKey::UserSource(source) => by_source(source),
                MemberKey::Group(key) => group_of(key).map(Member::Group),
            };
            match member {
                Some(Member::User(user)) => users.push((i, group, user)),
                Some(Member::Group(member)) => groups.push((i, group, member)),
                None => {
                    outcomes.push(Outcome::failed(
                        "member",
                        "names no user or group of the tenant or of this import",
                    ));
                    continue;
                }
            }
            outcomes.push(Outcome::Unchanged {
                kind: RecordKind::Member,
                id: group.as_uuid(),
            });
        }
        if users.is_empty() && groups.is_empty() {
            return Ok(outcomes);
        }
        tx.lock_memberships(tenant, !groups.is_empty()).await?;
        let mut locked: Vec<GroupId> = (users.iter().map(|(_, g, _)| *g))
            .chain(groups.iter().map(|(_, g, _)| *g))
            .collect();
        locked.sort_by_key(|g| g.as_uuid());
        locked.dedup();
        tx.lock_groups(tenant, &locked).await?;
        let member_users: Vec<UserId> = users.iter().map(|(_, _, u)| *u).collect();
        // The memberships stored, and those added below as they are.
        let mut present: HashSet<(GroupId, UserId)> =
            (tx.memberships_of_users(tenant, &member_users).await?)
                .into_iter()
                .collect();
        let mut delta = Delta::default();
        for (i, group, user) in users {
            if present.insert((group, user)) {
                delta.add.push((group, user));
                outcomes[i] = Outcome::Created {
                    kind: RecordKind::Member,
                    id: group.as_uuid(),
                };
            }
        }
        if !delta.add.is_empty() {
            write_delta(tx, &self.caller, tenant, &delta, now, || {
                ServiceError::invalid("member", "a member named was deleted meanwhile")
            })
            .await
            .map_err(super::Attempt::into_error)?;
        }
        if !groups.is_empty() {
            let edges: Vec<(GroupId, GroupId)> = groups.iter().map(|(_, g, m)| (*g, *m)).collect();
            let change = (tx.hierarchy(tenant).await?)
                .change(&edges, &[])
                .map_err(ServiceError::Cycle)?;
            for (i, group, member) in &groups {
                if change.added.contains(&(*group, *member)) {
                    outcomes[*i] = Outcome::Created {
                        kind: RecordKind::Member,
                        id: group.as_uuid(),
                    };
                }
            }
            if !change.is_empty() {
                tx.write_hierarchy_change(tenant, &change, now).await?;
                audit_members(tx, &self.caller, tenant, &Delta::default(), &change).await?;
            }
        }
        Ok(outcomes)
    }
}

/// A change that makes a stored user what `new` says, as a SCIM replace does; its
/// password is not part of it.
fn replacing(new: NewUser) -> UserPatch {
    UserPatch {
        email: Some(new.email),
        user_name: new.user_name.map_or(Patch::Clear, Patch::Set),
        first_name: Some(new.first_name),
        last_name: Some(new.last_name),
        profile: Some(new.profile),
        role: Some(new.role),
        status: Some(new.status),
        external_id: new.external_id.map_or(Patch::Clear, Patch::Set),
        attributes: new.attributes,
        ..UserPatch::default()
    }
}

/// One object of a tenant taken out.
#[derive(Debug, Clone)]
pub enum ExportItem {
    Attribute(AttributeDefinition),
    /// A group, after every group it lies directly within (named in `parents`).
    Group {
        group: Group,
        parents: Vec<String>,
    },
    /// A user with the names of the groups it is a direct member of, its default
    /// group's, and its password hash when the export carries them.
    User {
        user: Box<User>,
        groups: Vec<String>,
        default_group: Option<String>,
        password_hash: Option<String>,
    },
    /// An API key's description; its secret never leaves.
    ApiKey(crate::domain::ApiKey),
}

/// What an export carries beyond the directory itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// The users' password hashes: for the operator only, and audited.
    pub password_hashes: bool,
}

/// Where an export stands between two chunks.
enum ExportStep {
    Groups,
    Users(Option<crate::domain::PageCursor>),
    ApiKeys(Option<crate::domain::PageCursor>),
    Done,
}

impl Directory {
    /// The tenant's declared attributes, groups (each after its parents), users and
    /// API keys, in chunks: memory holds one chunk of users however many there are
    /// (and every group at once: a tenant has far fewer). Each chunk is read when the
    /// one before it has been taken, without a transaction held in between: a tenant
    /// changing meanwhile may be caught partly changed (a backup is consistent).
    pub async fn export(
        &self,
        caller: &Caller,
        tenant: TenantId,
        options: ExportOptions,
    ) -> ServiceResult<
        impl futures_util::Stream<Item = ServiceResult<Vec<ExportItem>>> + Send + 'static,
    > {
        self.authorize(caller, tenant, Access::Administer).await?;
        if options.password_hashes {
            if !caller.principal.is_operator() {
                return Err(ServiceError::Forbidden(
                    "only the operator may export password hashes",
                ));
            }
            let mut tx = self.store.begin().await?;
            audit(
                &mut tx,
                caller,
                tenant,
                Action::ExportWithHashes,
                (TargetKind::Tenant, tenant.to_string()),
                json!({}),
            )
            .await?;
            tx.commit().await?;
        }
        let attributes: Vec<ExportItem> = (self.store.list_attributes(tenant).await?)
            .into_iter()
            .map(ExportItem::Attribute)
            .collect();
        let store = self.store.clone();
        let first = futures_util::stream::once(async move { Ok(attributes) });
        let rest = futures_util::stream::try_unfold(ExportStep::Groups, move |step| {
            let store = store.clone();
            async move {
                let limit = super::users::chunk_limit();
                Ok::<_, ServiceError>(match step {
                    ExportStep::Groups => Some((
                        export_groups(&store, tenant).await?,
                        ExportStep::Users(None),
                    )),
                    ExportStep::Users(after) => {
                        let query = crate::domain::UserQuery {
                            filter: crate::domain::Filter::Constant(true),
                            sort: None,
                            window: crate::domain::Window::After { after, limit },
                            include: crate::domain::Include::Groups,
                        };
                        let list = super::users::read_users(&store, tenant, &query).await?;
                        let next = match list.next {
                            Some(next) => ExportStep::Users(Some(next)),
                            None => ExportStep::ApiKeys(None),
                        };
                        let users = export_users(&store, tenant, list.users, options).await?;
                        Some((users, next))
                    }
                    ExportStep::ApiKeys(after) => {
                        let page = crate::domain::PageRequest { after, limit };
                        let rows = store.list_api_keys(tenant, page).await?;
                        let page = crate::domain::Page::from_rows(rows, limit, |k| k.id.as_uuid());
                        let next = match page.next {
                            Some(next) => ExportStep::ApiKeys(Some(next)),
                            None => ExportStep::Done,
                        };
                        Some((
                            page.items.into_iter().map(ExportItem::ApiKey).collect(),
                            next,
                        ))
                    }
                    ExportStep::Done => None,
                })
            }
        });
        Ok(futures_util::StreamExt::chain(first, rest))
    }
}

/// Every group of the tenant, each after the groups it lies directly within.
async fn export_groups(
    store: &crate::store::Store,
    tenant: TenantId,
) -> ServiceResult<Vec<ExportItem>> {
    let mut groups: Vec<Group> = Vec::new();
    let mut page = crate::domain::PageRequest {
        after: None,
        limit: super::users::chunk_limit(),
    };
    loop {
        let rows = store.list_groups(tenant, None, page).await?;
        let found = crate::domain::Page::from_rows(rows, page.limit, |g| g.id.as_uuid());
        groups.extend(found.items);
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let hierarchy = store.hierarchy(tenant).await?;
    let names: HashMap<GroupId, String> = groups.iter().map(|g| (g.id, g.name.clone())).collect();
    // Parents first: a group is written once every group it lies within is.
    let mut written: HashSet<GroupId> = HashSet::new();
    let mut items = Vec::with_capacity(groups.len());
    let mut pending = groups;
    while !pending.is_empty() {
        let before = pending.len();
        let mut later = Vec::new();
        for group in pending {
            if hierarchy.parents_of(group.id).all(|p| written.contains(&p)) {
                let parents = (hierarchy.parents_of(group.id))
                    .filter_map(|p| names.get(&p).cloned())
                    .collect();
                written.insert(group.id);
                items.push(ExportItem::Group { group, parents });
            } else {
                later.push(group);
            }
        }
        if later.len() == before {
            // Unreachable while the hierarchy stays acyclic; written as they are.
            items.extend(later.into_iter().map(|group| ExportItem::Group {
                group,
                parents: Vec::new(),
            }));
            break;
        }
        pending = later;
    }
    Ok(items)
}

/// A chunk of users as an export writes them.
async fn export_users(
    store: &crate::store::Store,
    tenant: TenantId,
    users: Vec<super::UserWithGroups>,
    options: ExportOptions,
) -> ServiceResult<Vec<ExportItem>> {
    let mut hashes: HashMap<UserId, String> = if options.password_hashes {
        let ids: Vec<UserId> = users.iter().map(|u| u.user.id).collect();
        store
            .password_hashes(tenant, &ids)
            .await?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    Ok(users
        .into_iter()
        .map(|found| {
            let default_group = (found.groups.iter())
                .find(|m| Some(m.group.id) == found.user.default_group_id)
                .map(|m| m.group.name.clone());
            let groups = (found.groups.into_iter())
                .filter(|m| m.direct)
                .map(|m| m.group.name)
                .collect();
            let password_hash = hashes.remove(&found.user.id);
            ExportItem::User {
                user: Box::new(found.user),
                groups,
                default_group,
                password_hash,
            }
        })
        .collect())
}
