//! `POST /.search` at the root (RFC 7644 §3.4.3): users and groups searched
//! together, users first and then groups, each in id order.

use axum::extract::{Request, State};
use axum::response::Response;

use crate::domain::Filter;
use crate::http::AppState;
use crate::service::DirectoryObject;

use super::error::ScimError;
use super::filter::resource_filters;
use super::{ScimCaller, groups, list_response, scim_body, search_params, users, window};

/// `POST /.search`: a SearchRequest over every resource type. `sortBy` is refused:
/// the types share too few attributes to order them as one list.
pub async fn search_all(
    State(state): State<AppState>,
    scim: ScimCaller,
    request: Request,
) -> Result<Response, ScimError> {
    let params = search_params(&scim_body(request).await?)?;
    if params.sort_by.is_some() {
        return Err(ScimError::bad(
            "invalidValue",
            "sortBy is not offered on a search across resource types; \
             search /Users/.search or /Groups/.search to sort",
        ));
    }
    let declared = state
        .directory
        .attributes(&scim.caller, scim.tenant)
        .await?;
    let (user_filter, group_filter) = match params.filter.as_deref() {
        Some(text) => resource_filters(text, &declared)?,
        None => (Filter::Constant(true), Filter::Constant(true)),
    };
    let (start, count) = window(&params)?;
    let listing = state
        .directory
        .users_and_groups(
            &scim.caller,
            scim.tenant,
            user_filter,
            &group_filter,
            start - 1,
            count,
        )
        .await?;
    let resources = listing
        .items
        .iter()
        .map(|found| {
            params.shape(match found {
                DirectoryObject::User(user) => {
                    users::resource(user, &scim.base, &declared, params.attributes.as_deref())
                }
                DirectoryObject::Group(group) => groups::render(group, &scim.base),
            })
        })
        .collect();
    Ok(list_response(listing.total, start, resources))
}
