//! Attributes a tenant declares for its users: declaring, reading, changing and
//! deleting them. Their values are written with the user they belong to.

use serde_json::json;

use crate::auth::Caller;
use crate::domain::{
    Action, AttributeChange, AttributeDefinition, AttributeName, AttributeValues, AttributeWrite,
    MAX_ATTRIBUTES, NewAttribute, TargetKind, TenantId, Timestamp, UserId, apply_attribute_write,
    attribute_field,
};
use crate::store::{StoreError, Tx, Unique};

use super::{
    Access, Directory, Precondition, Resource, ServiceError, ServiceResult, applied, audit,
};

/// The user's declared attributes after `write`, checked against the tenant's
/// declarations, and the keys of those that changed.
pub(super) fn applied_attribute_write(
    declared: &[AttributeDefinition],
    current: &AttributeValues,
    write: AttributeWrite,
    creating: bool,
) -> ServiceResult<(AttributeValues, Vec<String>)> {
    apply_attribute_write(declared, current, write, creating).map_err(ServiceError::Invalid)
}

/// Stores the user's values of the attributes whose keys are `changed`, as `next`
/// holds them. A value of a unique attribute that another user holds is a conflict
/// naming the attribute.
pub(super) async fn store_attribute_values(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    declared: &[AttributeDefinition],
    next: &AttributeValues,
    changed: &[String],
) -> ServiceResult<()> {
    for attribute in declared.iter().filter(|a| changed.contains(&a.key())) {
        let values = next.get(&attribute.key()).map_or(&[][..], Vec::as_slice);
        match tx
            .replace_attribute_values(tenant, user, attribute, values)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Duplicate(Unique::AttributeValue)) => {
                return Err(ServiceError::Conflict {
                    field: "attributes",
                    message: format!(
                        "{}: another user of the tenant holds this value, and the attribute is \
                         unique",
                        attribute_field(&attribute.name)
                    ),
                });
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

/// The names of the fields that differ between two versions of a declaration.
fn changed_fields(before: &AttributeDefinition, after: &AttributeDefinition) -> Vec<&'static str> {
    [
        (before.description != after.description, "description"),
        (before.required != after.required, "required"),
        (before.mutability != after.mutability, "mutability"),
        (before.returned != after.returned, "returned"),
    ]
    .into_iter()
    .filter_map(|(changed, name)| changed.then_some(name))
    .collect()
}

/// Declares an attribute in `tx`, with its audit event: at most [`MAX_ATTRIBUTES`]
/// a tenant.
pub(super) async fn declare_attribute(
    tx: &mut Tx,
    caller: &Caller,
    tenant: TenantId,
    new: NewAttribute,
) -> ServiceResult<AttributeDefinition> {
    let now = Timestamp::now();
    let attribute = AttributeDefinition {
        tenant_id: tenant,
        name: new.name.into_string(),
        description: new.description.into_string(),
        kind: new.kind,
        multi_valued: new.multi_valued,
        required: new.required,
        unique: new.unique,
        case_exact: new.case_exact,
        mutability: new.mutability,
        returned: new.returned,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    if usize::try_from(tx.count_attributes(tenant).await?).unwrap_or(usize::MAX) >= MAX_ATTRIBUTES {
        return Err(ServiceError::Conflict {
            field: "name",
            message: format!("a tenant declares at most {MAX_ATTRIBUTES} attributes"),
        });
    }
    tx.insert_attribute(&attribute).await?;
    audit(
        tx,
        caller,
        tenant,
        Action::AttributeDeclare,
        (TargetKind::Attribute, attribute.name.clone()),
        json!({
            "type": attribute.kind.as_str(),
            "multiValued": attribute.multi_valued,
            "required": attribute.required,
            "unique": attribute.unique,
            "caseExact": attribute.case_exact,
            "mutability": attribute.mutability.as_str(),
            "returned": attribute.returned.as_str(),
        }),
    )
    .await?;
    Ok(attribute)
}

impl Directory {
    /// The tenant's declarations a write of `attributes` is checked against: read
    /// only when the write names any, or when a user is created (`creating`), whose
    /// required attributes must be given.
    pub(super) async fn declared_for(
        &self,
        tenant: TenantId,
        attributes: &AttributeWrite,
        creating: bool,
    ) -> ServiceResult<Vec<AttributeDefinition>> {
        if attributes.is_empty() && !creating {
            return Ok(Vec::new());
        }
        Ok(self.store.list_attributes(tenant).await?)
    }

    /// Declares a user attribute for the tenant: administrators and the operator may.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn declare_attribute(
        &self,
        caller: &Caller,
        tenant: TenantId,
        new: NewAttribute,
    ) -> ServiceResult<AttributeDefinition> {
        self.authorize(caller, tenant, Access::Write).await?;
        let mut tx = self.store.begin().await?;
        let attribute = declare_attribute(&mut tx, caller, tenant, new).await?;
        tx.commit().await?;
        self.declared.forget(&tenant);
        Ok(attribute)
    }

    /// Every attribute the tenant declared, in name order, as reads show them: a
    /// change made on another instance shows here within [`super::TRUST_SECONDS`],
    /// one made here at once. Writes check values against the database's own.
    pub async fn attributes(
        &self,
        caller: &Caller,
        tenant: TenantId,
    ) -> ServiceResult<Vec<AttributeDefinition>> {
        self.authorize(caller, tenant, Access::Read).await?;
        if let Some(declared) = self.declared.get(&tenant) {
            return Ok(declared.to_vec());
        }
        let ticket = self.declared.ticket();
        let declared = self.store.list_attributes(tenant).await?;
        self.declared
            .keep(tenant, std::sync::Arc::new(declared.clone()), ticket);
        Ok(declared)
    }

    /// The declared attribute of this name, in any letter case.
    pub async fn attribute(
        &self,
        caller: &Caller,
        tenant: TenantId,
        name: &AttributeName,
    ) -> ServiceResult<AttributeDefinition> {
        self.authorize(caller, tenant, Access::Read).await?;
        self.store
            .get_attribute(tenant, &name.key())
            .await?
            .ok_or(ServiceError::NotFound(Resource::Attribute))
    }

    /// Changes what may change of a declaration once values were checked against it.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn change_attribute(
        &self,
        caller: &Caller,
        tenant: TenantId,
        name: &AttributeName,
        change: AttributeChange,
        precondition: Precondition,
    ) -> ServiceResult<AttributeDefinition> {
        self.authorize(caller, tenant, Access::Write).await?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_attribute(tenant, &name.key())
            .await?
            .ok_or(ServiceError::NotFound(Resource::Attribute))?;
        precondition.check(current.version)?;
        let mut next = current.clone();
        change.apply_to(&mut next);
        let changed = changed_fields(&current, &next);
        if changed.is_empty() {
            return Ok(current);
        }
        next.version = current.version + 1;
        next.updated_at = Timestamp::now();
        applied(tx.update_attribute(&next, current.version).await?)?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::AttributeUpdate,
            (TargetKind::Attribute, next.name.clone()),
            json!({ "fields": changed }),
        )
        .await?;
        tx.commit().await?;
        self.declared.forget(&tenant);
        Ok(next)
    }

    /// Deletes the declaration and every user's values of it.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant), err(level = "debug"))]
    pub async fn delete_attribute(
        &self,
        caller: &Caller,
        tenant: TenantId,
        name: &AttributeName,
        precondition: Precondition,
    ) -> ServiceResult<()> {
        self.authorize(caller, tenant, Access::Write).await?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_attribute(tenant, &name.key())
            .await?
            .ok_or(ServiceError::NotFound(Resource::Attribute))?;
        precondition.check(current.version)?;
        applied(
            tx.delete_attribute(tenant, &name.key(), current.version)
                .await?,
        )?;
        audit(
            &mut tx,
            caller,
            tenant,
            Action::AttributeDelete,
            (TargetKind::Attribute, current.name.clone()),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.declared.forget(&tenant);
        Ok(())
    }
}
