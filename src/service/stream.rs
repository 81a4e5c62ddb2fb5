//! Whole-tenant lists for the faces whose products have no paging. They are read in
//! keyset chunks, so memory holds one chunk however large the tenant, and no
//! transaction or connection is held while the client reads.

use futures_util::Stream;
use futures_util::stream;

use crate::auth::Caller;
use crate::domain::{Group, GroupId, PageLimit, PageRequest, TenantId, User, UserFilter, UserId};

use super::{Access, Directory, ServiceResult};

/// Users (or groups) per chunk: large enough to amortise the query, small enough
/// that a chunk's memory is negligible.
const CHUNK: u32 = 500;

/// A user with the ids of its groups.
#[derive(Debug, Clone)]
pub struct UserWithGroupIds {
    pub user: User,
    pub group_ids: Vec<GroupId>,
}

/// Gives each user the items paired with its id: `users` and `memberships` both in
/// user id order, as one range query over a chunk's users answers them.
pub(super) fn attach_to_users<T>(
    users: Vec<User>,
    memberships: Vec<(UserId, T)>,
) -> Vec<(User, Vec<T>)> {
    let mut memberships = memberships.into_iter().peekable();
    users
        .into_iter()
        .map(|user| {
            let mut items = Vec::new();
            while let Some((_, item)) = memberships.next_if(|(member, _)| *member == user.id) {
                items.push(item);
            }
            (user, items)
        })
        .collect()
}

fn chunk_limit() -> PageLimit {
    PageLimit::new(CHUNK).unwrap_or_default()
}

impl Directory {
    /// Every user of the tenant in id order, chunk by chunk; with `with_groups`, each
    /// chunk's memberships come from one more query.
    pub async fn stream_users(
        &self,
        caller: &Caller,
        tenant: TenantId,
        with_groups: bool,
    ) -> ServiceResult<impl Stream<Item = ServiceResult<Vec<UserWithGroupIds>>> + Send + 'static>
    {
        self.authorize(caller, tenant, Access::Read).await?;
        let store = self.store.clone();
        let start = PageRequest {
            limit: chunk_limit(),
            after: None,
        };
        Ok(stream::try_unfold(Some(start), move |page| {
            let store = store.clone();
            async move {
                let Some(page) = page else { return Ok(None) };
                let rows = store
                    .list_users(tenant, &UserFilter::default(), page)
                    .await?;
                let page_of = crate::domain::Page::from_rows(rows, page.limit, |u| u.id.as_uuid());
                let mut memberships =
                    match (with_groups, page_of.items.first(), page_of.items.last()) {
                        (true, Some(first), Some(last)) => store
                            .memberships_of_user_range(tenant, first.id, last.id)
                            .await?
                            .into_iter()
                            .peekable(),
                        _ => Vec::new().into_iter().peekable(),
                    };
                let chunk: Vec<UserWithGroupIds> = page_of
                    .items
                    .into_iter()
                    .map(|user| {
                        let mut group_ids = Vec::new();
                        while let Some((_, group)) =
                            memberships.next_if(|(member, _)| *member == user.id)
                        {
                            group_ids.push(group);
                        }
                        UserWithGroupIds { user, group_ids }
                    })
                    .collect();
                let next = page_of.next.map(|after| PageRequest {
                    after: Some(after),
                    ..page
                });
                if chunk.is_empty() {
                    return Ok(None);
                }
                Ok(Some((chunk, next)))
            }
        }))
    }

    /// Every group of the tenant in id order, chunk by chunk.
    pub async fn stream_groups(
        &self,
        caller: &Caller,
        tenant: TenantId,
    ) -> ServiceResult<impl Stream<Item = ServiceResult<Vec<Group>>> + Send + 'static> {
        self.authorize(caller, tenant, Access::Read).await?;
        let store = self.store.clone();
        let start = PageRequest {
            limit: chunk_limit(),
            after: None,
        };
        Ok(stream::try_unfold(Some(start), move |page| {
            let store = store.clone();
            async move {
                let Some(page) = page else { return Ok(None) };
                let rows = store.list_groups(tenant, None, page).await?;
                let page_of = crate::domain::Page::from_rows(rows, page.limit, |g| g.id.as_uuid());
                if page_of.items.is_empty() {
                    return Ok(None);
                }
                let next = page_of.next.map(|after| PageRequest {
                    after: Some(after),
                    ..page
                });
                Ok(Some((page_of.items, next)))
            }
        }))
    }
}
