//! Validation of what clients send to create or change a user. Every invalid field is
//! reported at once.

use std::fmt;

use serde::Deserialize;

use super::lifecycle::{Refused, Transition};
use super::passwords::{CurrentPassword, NewPassword};
use super::{DisplayName, Email, FieldError, PictureUrl, Status, User, Username};

/// The fields of a new user, as sent (registration, admin create, bulk, import). Its
/// `Debug` leaves the password out.
#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    pub email: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub display_name: Option<String>,
    pub profile_picture_url: Option<String>,
    pub is_admin: Option<bool>,
    pub status: Option<String>,
    /// An admin (or an import) may vouch for the address; everyone else starts unverified.
    pub email_verified: Option<bool>,
}

impl fmt::Debug for NewUserInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUserInput")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A new user that passed validation.
#[derive(Debug)]
pub struct NewUser {
    pub email: Email,
    pub username: Username,
    pub password: Option<NewPassword>,
    pub display_name: Option<DisplayName>,
    pub profile_picture_url: Option<PictureUrl>,
    pub is_admin: bool,
    pub status: Status,
    pub email_verified: bool,
}

/// Collects field errors while values are parsed.
#[derive(Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn check<T>(&mut self, field: &str, result: Result<T, &'static str>) -> Option<T> {
        result
            .map_err(|m| self.0.push(FieldError::new(field, m)))
            .ok()
    }

    pub fn require<'a>(&mut self, field: &str, value: &'a Option<String>) -> Option<&'a str> {
        if value.is_none() {
            self.0.push(FieldError::new(field, "is required"));
        }
        value.as_deref()
    }

    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldError>> {
        match (self.0.is_empty(), value()) {
            (true, Some(v)) => Ok(v),
            (_, _) if !self.0.is_empty() => Err(self.0),
            // Every None above pushed an error; reaching here is a bug in a validator.
            _ => Err(vec![FieldError::new("body", "is invalid")]),
        }
    }
}

impl NewUserInput {
    /// `password_required`: registration needs one; an admin may create a user without.
    pub fn validate(&self, password_required: bool) -> Result<NewUser, Vec<FieldError>> {
        let mut errs = Errors::default();
        let email = errs
            .require("email", &self.email)
            .and_then(|e| errs.check("email", Email::parse(e)));
        let username = errs
            .require("username", &self.username)
            .and_then(|u| errs.check("username", Username::parse(u)));
        let password = match (&self.password, password_required) {
            (None, false) => Some(None),
            (raw, _) => errs
                .require("password", raw)
                .and_then(|p| {
                    errs.check(
                        "password",
                        NewPassword::parse(p, email.as_ref(), username.as_ref()),
                    )
                })
                .map(Some),
        };
        let display_name = match &self.display_name {
            None => Some(None),
            Some(d) => errs.check("display_name", DisplayName::parse(d)),
        };
        let profile_picture_url = match &self.profile_picture_url {
            None => Some(None),
            Some(p) => errs.check("profile_picture_url", PictureUrl::parse(p)),
        };
        let status = match &self.status {
            None => Some(Status::Active),
            Some(s) => errs.check("status", Status::settable(s)),
        };
        errs.finish(|| {
            Some(NewUser {
                email: email?,
                username: username?,
                password: password?,
                display_name: display_name?,
                profile_picture_url: profile_picture_url?,
                is_admin: self.is_admin.unwrap_or(false),
                status: status?,
                email_verified: self.email_verified.unwrap_or(false),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_invalid_field() {
        let input = NewUserInput {
            email: Some("nope".into()),
            username: Some("x".into()),
            password: Some("short".into()),
            profile_picture_url: Some("http://x.com".into()),
            ..Default::default()
        };
        let errors = input.validate(true).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["email", "username", "password", "profile_picture_url"]
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let errors = NewUserInput::default().validate(true).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "username", "password"]);
        let errors = NewUserInput::default().validate(false).unwrap_err();
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn valid_input_passes() {
        let input = NewUserInput {
            email: Some("Ann@Example.com".into()),
            username: Some("ann".into()),
            password: Some("correct horse battery".into()),
            display_name: Some(" Ann ".into()),
            ..Default::default()
        };
        let user = input.validate(true).unwrap();
        assert_eq!(user.email.as_str(), "ann@example.com");
        assert_eq!(user.display_name.unwrap().as_str(), "Ann");
        assert_eq!(user.status, Status::Active);
    }

    #[test]
    fn deleted_is_not_a_status_to_set() {
        let input = NewUserInput {
            email: Some("ann@example.com".into()),
            username: Some("ann".into()),
            status: Some("deleted".into()),
            ..Default::default()
        };
        assert_eq!(input.validate(false).unwrap_err()[0].field, "status");
        let change = ChangesInput {
            status: Some("deleted".into()),
            ..Default::default()
        };
        assert_eq!(change.validate().unwrap_err()[0].field, "status");
    }

    #[test]
    fn inputs_print_no_password() {
        let secret = "correct horse battery";
        let create = NewUserInput {
            password: Some(secret.into()),
            ..Default::default()
        };
        let change = ChangesInput {
            password: Some(secret.into()),
            ..Default::default()
        };
        let changes = change.validate().unwrap();
        for printed in [
            format!("{create:?}"),
            format!("{change:?}"),
            format!("{changes:?}"),
        ] {
            assert!(!printed.contains("horse"), "{printed}");
        }
    }

    fn stored(status: Status) -> User {
        User {
            username: Username::parse("annlee99").unwrap(),
            status,
            ..User::fixture()
        }
    }

    fn changes(input: ChangesInput) -> Changes {
        input.validate().unwrap()
    }

    #[test]
    fn status_changes_follow_the_lifecycle() {
        let off = changes(ChangesInput {
            status: Some("inactive".into()),
            ..Default::default()
        });
        let (after, fields) = off.apply(&stored(Status::Active), None).unwrap();
        assert_eq!((after.status, fields), (Status::Inactive, vec!["status"]));
        assert!(matches!(
            off.apply(&stored(Status::Deleted), None),
            Err(Rejected::Lifecycle(Refused::Deleted))
        ));
    }

    #[test]
    fn an_anonymised_user_takes_no_change() {
        let user = stored(Status::Active);
        let anon = Transition::Anonymize.apply(&user).unwrap().after.unwrap();
        let rename = changes(ChangesInput {
            display_name: Some(Some("Ann".into())),
            ..Default::default()
        });
        assert!(matches!(
            rename.apply(&anon, None),
            Err(Rejected::Lifecycle(Refused::Anonymized))
        ));
    }

    #[test]
    fn a_password_is_checked_against_the_stored_names() {
        let set = |p: &str| {
            changes(ChangesInput {
                password: Some(p.into()),
                ..Default::default()
            })
        };
        let user = stored(Status::Active);
        let Err(Rejected::Invalid(errors)) = set("AnnLee99").apply(&user, Some("$h")) else {
            panic!("the username was accepted as a password");
        };
        assert_eq!(errors[0].field, "password");
        let (after, fields) = set("correct horse battery")
            .apply(&user, Some("$argon2id$h"))
            .unwrap();
        assert_eq!(after.password_hash.as_deref(), Some("$argon2id$h"));
        assert_eq!(fields, ["password"]);
        assert!(!set("correct horse battery").is_empty());
        assert!(ChangesInput::default().validate().unwrap().is_empty());
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;
    use crate::domain::User;

    #[test]
    fn a_new_email_is_unverified() {
        let user = User {
            email_verified: true,
            authority: 0,
            ..User::fixture()
        };
        let same = Changes {
            email: Some(user.email.clone()),
            ..Default::default()
        };
        assert_eq!(same.apply(&user, None).unwrap(), (user.clone(), vec![]));
        let moved = Changes {
            email: Some(Email::parse("new@example.com").unwrap()),
            ..Default::default()
        };
        let (after, fields) = moved.apply(&user, None).unwrap();
        assert!(!after.email_verified);
        assert_eq!(fields, ["email", "email_verified"]);
    }
}

/// `Some(None)` for an explicit `null`, so a PATCH can clear a field.
pub fn nullable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A PATCH of a user, as sent. Its `Debug` leaves the password out.
#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesInput {
    pub email: Option<String>,
    pub username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub profile_picture_url: Option<Option<String>>,
    pub status: Option<String>,
    pub is_admin: Option<bool>,
    /// Proves a person's identity when they change their own email.
    pub current_password: Option<CurrentPassword>,
    pub password: Option<String>,
}

impl fmt::Debug for ChangesInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangesInput")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("profile_picture_url", &self.profile_picture_url)
            .field("status", &self.status)
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

/// A validated change to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub email: Option<Email>,
    pub username: Option<Username>,
    pub display_name: Option<Option<DisplayName>>,
    pub profile_picture_url: Option<Option<PictureUrl>>,
    /// `active` or `inactive`: applied as the activate or deactivate move.
    pub status: Option<Status>,
    pub is_admin: Option<bool>,
    /// Checked against the user's email and username again when applied.
    pub password: Option<NewPassword>,
}

/// Why a change cannot be applied to the user as it is now.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    /// The lifecycle forbids it (a 409).
    #[error(transparent)]
    Lifecycle(#[from] Refused),
    /// A value breaks a rule that depends on the user (a 400).
    #[error("request has invalid fields")]
    Invalid(Vec<FieldError>),
}

impl ChangesInput {
    /// Whether the change touches what a person may not change on themself through a
    /// self-service route.
    pub fn is_privileged(&self) -> bool {
        self.status.is_some() || self.is_admin.is_some() || self.password.is_some()
    }

    pub fn validate(&self) -> Result<Changes, Vec<FieldError>> {
        let mut errs = Errors::default();
        let email = self
            .email
            .as_deref()
            .map(|e| errs.check("email", Email::parse(e)));
        let username = self
            .username
            .as_deref()
            .map(|u| errs.check("username", Username::parse(u)));
        let display_name = self.display_name.as_ref().map(|d| {
            errs.check(
                "display_name",
                DisplayName::parse(d.as_deref().unwrap_or("")),
            )
        });
        let profile_picture_url = self.profile_picture_url.as_ref().map(|p| {
            errs.check(
                "profile_picture_url",
                PictureUrl::parse(p.as_deref().unwrap_or("")),
            )
        });
        let status = self
            .status
            .as_deref()
            .map(|s| errs.check("status", Status::settable(s)));
        // The names this body sets count already; the stored ones are checked on apply.
        let password = self.password.as_deref().map(|p| {
            let email = email.as_ref().and_then(Option::as_ref);
            let username = username.as_ref().and_then(Option::as_ref);
            errs.check("password", NewPassword::parse(p, email, username))
        });
        errs.finish(|| {
            Some(Changes {
                email: email.map_or(Some(None), |e| e.map(Some))?,
                username: username.map_or(Some(None), |u| u.map(Some))?,
                display_name: display_name.map_or(Some(None), |d| d.map(Some))?,
                profile_picture_url: profile_picture_url.map_or(Some(None), |p| p.map(Some))?,
                status: status.map_or(Some(None), |s| s.map(Some))?,
                is_admin: self.is_admin,
                password: password.map_or(Some(None), |p| p.map(Some))?,
            })
        })
    }
}

impl Changes {
    /// Whether the change names no field at all.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.username.is_none()
            && self.display_name.is_none()
            && self.profile_picture_url.is_none()
            && self.status.is_none()
            && self.is_admin.is_none()
            && self.password.is_none()
    }

    /// The user with the changes applied, and the names of the fields that really changed.
    /// A status goes through its lifecycle move; an anonymised user takes no change at all.
    /// `password_hash` is the hash of `self.password`, made once by the caller.
    pub fn apply(
        &self,
        user: &User,
        password_hash: Option<&str>,
    ) -> Result<(User, Vec<&'static str>), Rejected> {
        if user.is_anonymised() {
            return Err(Refused::Anonymized.into());
        }
        let mut after = user.clone();
        let mut changed = Vec::new();
        if let Some(status) = self.status {
            let moved = Transition::to_status(status)?.apply(user)?;
            after = moved.after.unwrap_or(after);
            changed.extend(moved.fields);
        }
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = &self.$field {
                    if after.$field != *v {
                        after.$field = v.clone();
                        changed.push(stringify!($field));
                    }
                }
            };
        }
        set!(email);
        set!(username);
        set!(display_name);
        set!(profile_picture_url);
        set!(is_admin);
        if let (Some(password), Some(hash)) = (&self.password, password_hash) {
            NewPassword::parse(password.expose(), Some(&after.email), Some(&after.username))
                .map_err(|m| Rejected::Invalid(vec![FieldError::new("password", m)]))?;
            after.password_hash = Some(hash.to_owned());
            changed.push("password");
        }
        // A new address is unproven until its owner follows the link mailed to it.
        if changed.contains(&"email") && after.email_verified {
            after.email_verified = false;
            changed.push("email_verified");
        }
        Ok((after, changed))
    }
}
