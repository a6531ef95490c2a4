//! Who is asking, and what they may do. Pure rules; the HTTP layer only asks them.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::Serialize;

use super::{SessionId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn of(is_admin: bool) -> Self {
        if is_admin {
            Role::Admin
        } else {
            Role::User
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Scope {
    #[serde(rename = "users:read")]
    UsersRead,
    #[serde(rename = "users:write")]
    UsersWrite,
    #[serde(rename = "users:export")]
    UsersExport,
    #[serde(rename = "users:import")]
    UsersImport,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::UsersExport,
        Scope::UsersImport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::UsersExport => "users:export",
            Scope::UsersImport => "users:import",
        }
    }
}

impl FromStr for Scope {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s).ok_or(())
    }
}

/// An authenticated caller: a person with a live session, or a service with an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User {
        id: UserId,
        session_id: SessionId,
        /// From the user's stored state when the request began, never from a token claim.
        role: Role,
    },
    ApiKey {
        id: String,
        scopes: BTreeSet<Scope>,
    },
}

/// The outcome of an access check, in the terms the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Authenticated but not allowed: 403.
    Forbidden,
    /// Not allowed, and the resource's existence must not leak: 404.
    Hidden,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Principal::User {
                role: Role::Admin,
                ..
            }
        )
    }

    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Principal::User { id, .. } => Some(*id),
            Principal::ApiKey { .. } => None,
        }
    }

    /// Admin-only routes.
    pub fn require_admin(&self) -> Result<(), Denied> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Denied::Forbidden)
        }
    }

    /// Routes open to admins and to API keys holding `scope`.
    pub fn require_scope(&self, scope: Scope) -> Result<(), Denied> {
        match self {
            Principal::User {
                role: Role::Admin, ..
            } => Ok(()),
            Principal::ApiKey { scopes, .. } if scopes.contains(&scope) => Ok(()),
            _ => Err(Denied::Forbidden),
        }
    }

    /// Routes about one user: admins, API keys with `scope`, and that user themself.
    /// Anyone else learns nothing, not even that the user exists.
    pub fn require_self_or_scope(&self, target: UserId, scope: Scope) -> Result<(), Denied> {
        match self {
            Principal::User { id, .. } if *id == target => Ok(()),
            Principal::User {
                role: Role::User, ..
            } => Err(Denied::Hidden),
            _ => self.require_scope(scope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> (UserId, Principal) {
        let id = UserId::new();
        (
            id,
            Principal::User {
                id,
                session_id: SessionId::new(0),
                role,
            },
        )
    }

    #[test]
    fn admins_pass_everything() {
        let (_, admin) = user(Role::Admin);
        assert_eq!(admin.require_admin(), Ok(()));
        assert_eq!(admin.require_scope(Scope::UsersExport), Ok(()));
        assert_eq!(
            admin.require_self_or_scope(UserId::new(), Scope::UsersRead),
            Ok(())
        );
    }

    #[test]
    fn users_see_only_themselves() {
        let (id, me) = user(Role::User);
        assert_eq!(me.require_self_or_scope(id, Scope::UsersRead), Ok(()));
        assert_eq!(
            me.require_self_or_scope(UserId::new(), Scope::UsersRead),
            Err(Denied::Hidden)
        );
        assert_eq!(me.require_admin(), Err(Denied::Forbidden));
        assert_eq!(me.require_scope(Scope::UsersRead), Err(Denied::Forbidden));
    }

    #[test]
    fn api_keys_need_the_scope() {
        let key = Principal::ApiKey {
            id: "k".into(),
            scopes: [Scope::UsersRead].into_iter().collect(),
        };
        assert_eq!(key.require_scope(Scope::UsersRead), Ok(()));
        assert_eq!(key.require_scope(Scope::UsersWrite), Err(Denied::Forbidden));
        assert_eq!(key.require_admin(), Err(Denied::Forbidden));
        assert_eq!(
            key.require_self_or_scope(UserId::new(), Scope::UsersRead),
            Ok(())
        );
    }
}
