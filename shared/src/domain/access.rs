//! Who is asking, and what they may do. Pure rules; the HTTP layer only asks them.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::Serialize;

use super::input::{Changes, NewUser};
use super::{SessionId, User, UserId};

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
    /// Authenticated but not allowed, for a reason worth telling: 403.
    Because(&'static str),
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

    /// Admin power is given only by an admin person: creating an admin needs one (a bearer
    /// token with the admin role), never an API key, whatever its scopes.
    pub fn may_create(&self, new: &NewUser) -> Result<(), Denied> {
        if new.is_admin && !self.is_admin() {
            return Err(Denied::Because("only an admin can create an admin"));
        }
        Ok(())
    }

    /// Whether this caller may ask for `changes` to user `target`, once
    /// `require_self_or_scope` let it reach the user at all: the rules that need no read.
    /// Authority is an admin person's to change: `is_admin`, and a password (never their own
    /// here: that needs the current one, at POST /auth/password). `status` needs an admin or
    /// a `users:write` key, not the user themself.
    pub fn may_request(&self, target: UserId, changes: &Changes) -> Result<(), Denied> {
        let admin = self.is_admin();
        if changes.is_admin.is_some() && !admin {
            return Err(Denied::Because("only an admin can change is_admin"));
        }
        if changes.password.is_some() && (!admin || self.user_id() == Some(target)) {
            return Err(Denied::Because(
                "only an admin sets another user's password; change your own with POST /auth/password",
            ));
        }
        if changes.status.is_some() {
            self.require_scope(Scope::UsersWrite)?;
        }
        Ok(())
    }

    /// `may_request`, and the rule that needs the user as stored: an admin's account is out
    /// of an API key's reach entirely, since a new email or username would hand the key's
    /// holder the account through a password reset.
    pub fn may_change(&self, target: &User, changes: &Changes) -> Result<(), Denied> {
        self.may_request(target.id, changes)?;
        if target.is_admin && matches!(self, Principal::ApiKey { .. }) {
            return Err(Denied::Because(
                "an admin's account is changed only by admins",
            ));
        }
        Ok(())
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

    fn key(scopes: &[Scope]) -> Principal {
        Principal::ApiKey {
            id: "k".into(),
            scopes: scopes.iter().copied().collect(),
        }
    }

    fn target(is_admin: bool) -> User {
        User {
            email: crate::domain::Email::parse("t@example.com").unwrap(),
            username: crate::domain::Username::parse("target").unwrap(),
            is_admin,
            ..User::fixture()
        }
    }

    fn change(input: crate::domain::input::ChangesInput) -> Changes {
        input.validate().unwrap()
    }

    #[test]
    fn only_an_admin_person_gives_or_takes_admin_power() {
        let writer = key(&[Scope::UsersWrite]);
        let (_, admin) = user(Role::Admin);
        let new = crate::domain::input::NewUserInput {
            email: Some("a@example.com".into()),
            username: Some("abc".into()),
            is_admin: Some(true),
            ..Default::default()
        }
        .validate(false)
        .unwrap();
        assert!(matches!(writer.may_create(&new), Err(Denied::Because(_))));
        assert_eq!(admin.may_create(&new), Ok(()));
        for flag in [true, false] {
            let promote = change(crate::domain::input::ChangesInput {
                is_admin: Some(flag),
                ..Default::default()
            });
            assert!(writer.may_change(&target(false), &promote).is_err());
            assert_eq!(admin.may_change(&target(false), &promote), Ok(()));
        }
    }

    #[test]
    fn keys_keep_off_admin_accounts_and_passwords() {
        let writer = key(&[Scope::UsersWrite]);
        let rename = change(crate::domain::input::ChangesInput {
            display_name: Some(Some("New".into())),
            ..Default::default()
        });
        assert_eq!(writer.may_change(&target(false), &rename), Ok(()));
        assert!(writer.may_change(&target(true), &rename).is_err());
        let password = change(crate::domain::input::ChangesInput {
            password: Some("correct horse battery".into()),
            ..Default::default()
        });
        assert!(writer.may_change(&target(false), &password).is_err());
        let (admin_id, admin) = user(Role::Admin);
        assert_eq!(admin.may_change(&target(false), &password), Ok(()));
        let mut own = target(true);
        own.id = admin_id;
        assert!(admin.may_change(&own, &password).is_err());
    }

    #[test]
    fn users_change_only_their_profile_fields() {
        let (id, me) = user(Role::User);
        let mut mine = target(false);
        mine.id = id;
        let off = change(crate::domain::input::ChangesInput {
            status: Some("inactive".into()),
            ..Default::default()
        });
        assert!(me.may_change(&mine, &off).is_err());
        assert_eq!(key(&[Scope::UsersWrite]).may_change(&mine, &off), Ok(()));
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
