//! The user's lifecycle: the status moves and when each is allowed. Every route that
//! changes a status comes through here (the lifecycle routes, PATCH, PUT and bulk PATCH),
//! so `deleted` is entered and left only by DELETE, restore and anonymize, and an
//! anonymised user stays anonymised.

use super::{Email, Status, User, Username};

/// Why a move is not possible from the user's current state (a 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the user is deleted; restore it first")]
    Deleted,
    #[error("only a deleted user can be restored")]
    NotDeleted,
    #[error("an anonymized user cannot be restored or changed")]
    Anonymized,
    #[error("status becomes deleted only through DELETE or anonymize")]
    NotSettable,
}

/// The lifecycle moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Activate,
    Deactivate,
    SoftDelete,
    Restore,
    Anonymize,
    HardDelete,
}

/// A user after a move (`None` once erased) and the names of the fields that changed
/// (empty: nothing to write).
#[derive(Debug)]
pub struct Moved {
    pub after: Option<User>,
    pub fields: Vec<&'static str>,
}

impl Transition {
    /// The move a PATCH of `status` stands for. `deleted` is none: it is not a value to set.
    pub fn to_status(status: Status) -> Result<Self, Refused> {
        match status {
            Status::Active => Ok(Transition::Activate),
            Status::Inactive => Ok(Transition::Deactivate),
            Status::Deleted => Err(Refused::NotSettable),
        }
    }

    pub fn action(self) -> &'static str {
        match self {
            Transition::Activate => "activated",
            Transition::Deactivate => "deactivated",
            Transition::SoftDelete => "deleted",
            Transition::Restore => "restored",
            Transition::Anonymize => "anonymized",
            Transition::HardDelete => "erased",
        }
    }

    /// The user after the move, or why the move is not possible from its current state.
    pub fn apply(self, user: &User) -> Result<Moved, Refused> {
        let with_status = |status: Status| {
            let mut after = user.clone();
            after.status = status;
            let fields = if user.status == status {
                vec![]
            } else {
                vec!["status"]
            };
            Ok(Moved {
                after: Some(after),
                fields,
            })
        };
        match (self, user.status) {
            (Transition::Restore, _) if user.is_anonymised() => Err(Refused::Anonymized),
            (Transition::Activate | Transition::Deactivate, Status::Deleted) => {
                Err(Refused::Deleted)
            }
            (Transition::Activate, _) => with_status(Status::Active),
            (Transition::Deactivate, _) => with_status(Status::Inactive),
            (Transition::SoftDelete, _) => with_status(Status::Deleted),
            (Transition::Restore, Status::Deleted) => with_status(Status::Active),
            (Transition::Restore, _) => Err(Refused::NotDeleted),
            (Transition::Anonymize, _) => Ok(anonymize(user)),
            (Transition::HardDelete, _) => Ok(Moved {
                after: None,
                fields: vec!["*"],
            }),
        }
    }
}

fn anonymize(user: &User) -> Moved {
    let mut after = user.clone();
    after.email = Email::anonymised(user.id);
    after.username = Username::anonymised(user.id);
    after.display_name = None;
    after.profile_picture_url = None;
    after.password_hash = None;
    after.last_login_at = None;
    after.status = Status::Deleted;
    let fields = vec![
        "email",
        "username",
        "display_name",
        "profile_picture_url",
        "password",
        "last_login_at",
        "status",
    ];
    Moved {
        after: Some(after),
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(status: Status) -> User {
        User {
            status,
            password_hash: Some("$argon2id$x".into()),
            ..User::fixture()
        }
    }

    #[test]
    fn deleted_is_left_only_by_restore() {
        let deleted = user(Status::Deleted);
        for t in [Transition::Activate, Transition::Deactivate] {
            assert_eq!(t.apply(&deleted).unwrap_err(), Refused::Deleted);
        }
        let back = Transition::Restore.apply(&deleted).unwrap();
        assert_eq!(back.after.unwrap().status, Status::Active);
        assert_eq!(
            Transition::Restore
                .apply(&user(Status::Active))
                .unwrap_err(),
            Refused::NotDeleted
        );
    }

    #[test]
    fn patch_statuses_map_to_moves() {
        assert_eq!(
            Transition::to_status(Status::Active),
            Ok(Transition::Activate)
        );
        assert_eq!(
            Transition::to_status(Status::Inactive),
            Ok(Transition::Deactivate)
        );
        assert_eq!(
            Transition::to_status(Status::Deleted),
            Err(Refused::NotSettable)
        );
    }

    #[test]
    fn anonymisation_is_never_undone() {
        let anon = Transition::Anonymize
            .apply(&user(Status::Active))
            .unwrap()
            .after
            .unwrap();
        assert!(anon.is_anonymised() && anon.password_hash.is_none());
        for t in [
            Transition::Activate,
            Transition::Deactivate,
            Transition::Restore,
        ] {
            assert!(t.apply(&anon).is_err(), "{t:?}");
        }
    }

    #[test]
    fn a_no_op_changes_no_field() {
        let active = user(Status::Active);
        assert!(Transition::Activate
            .apply(&active)
            .unwrap()
            .fields
            .is_empty());
    }
}
