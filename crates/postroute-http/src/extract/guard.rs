//! Tenant authorisation in the handler's signature: `Member` proves the caller belongs to the
//! workspace in the path (404 otherwise, indistinguishable from a missing workspace), and
//! `Permit<A>` additionally proves their role may take action `A` (403 otherwise).

use postroute_app::Refusal;
use std::collections::HashMap;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use postroute_domain::{Action, WorkspaceId, role_allows};

use crate::problem::ApiError;
use crate::state::AppState;
use postroute_app::accounts::{AuthSession, RequestContext};
use postroute_app::workspaces::Caller;

/// The path parameter naming the workspace of every tenant route.
pub const WORKSPACE_PARAM: &str = "workspace_id";

/// An authenticated member of the workspace named in the path.
#[derive(Clone, Debug)]
pub struct Member {
    /// The caller as the workspace service sees them.
    pub caller: Caller,
    /// Their session.
    pub auth: AuthSession,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = AuthSession::from_request_parts(parts, state).await?;
        let context = RequestContext::from_request_parts(parts, state).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(Refusal::NotFound))?;
        let workspace: WorkspaceId = params
            .get(WORKSPACE_PARAM)
            .and_then(|id| id.parse().ok())
            .ok_or(ApiError(Refusal::NotFound))?;
        let (workspace, role) = state
            .workspaces
            .access(workspace, auth.user)
            .await?
            .ok_or(ApiError(Refusal::NotFound))?;
        Ok(Self { caller: Caller { workspace, user: auth.user, role, ip: context.ip }, auth })
    }
}

/// An action a route needs, as a type, so that the handler's signature states its policy.
pub trait Guarded: Send + Sync {
    /// The action in the permission matrix.
    const ACTION: Action;
}

/// A member whose role allows `A`.
#[derive(Debug)]
pub struct Permit<A: Guarded> {
    /// The member.
    pub member: Member,
    action: PhantomData<A>,
}

impl<A: Guarded> FromRequestParts<AppState> for Permit<A> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let member = Member::from_request_parts(parts, state).await?;
        if !role_allows(member.caller.role, A::ACTION) {
            return Err(ApiError(Refusal::Forbidden(format!(
                "Your role ({}) does not allow this.",
                member.caller.role
            ))));
        }
        Ok(Self { member, action: PhantomData })
    }
}

macro_rules! guarded {
    ($($name:ident),* $(,)?) => {
        /// Every action that has a marker, in the order they are declared.
        #[cfg(test)]
        const MARKED: &[Action] = &[$(Action::$name),*];

        /// Marker types for [`Permit`], one per action of the permission matrix.
        pub mod can {
            use super::*;
            $(
                #[doc = concat!("Permission to take `Action::", stringify!($name), "`.")]
                #[derive(Debug)]
                pub struct $name;
                impl Guarded for $name {
                    const ACTION: Action = Action::$name;
                }
            )*
        }
    };
}

guarded!(
    ViewWorkspace,
    UpdateWorkspace,
    DeleteWorkspace,
    ListMembers,
    ChangeMemberRole,
    RemoveMember,
    TransferOwnership,
    Invite,
    ListInvitations,
    RevokeInvitation,
    ViewAuditLog,
    ListChannels,
    ConnectChannel,
    DisconnectChannel,
    SetChannelSlots,
    ListMedia,
    UploadMedia,
    DeleteMedia,
    ListPosts,
    CreatePost,
    EditPost,
    ReviewPost,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_of_the_matrix_has_exactly_one_marker() {
        assert_eq!(MARKED, &Action::ALL[..], "add the new action to `guarded!`, in the same order");
    }
}
