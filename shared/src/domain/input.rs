//! Validation of what clients send to create or change a user. Every invalid field is
//! reported at once.

use serde::Deserialize;

use super::passwords::{CurrentPassword, NewPassword};
use super::{DisplayName, Email, PictureUrl, Status, Username};
use crate::error::FieldError;

/// The fields of a new user, as sent (registration, admin create, bulk, import).
#[derive(Debug, Default, Clone, Deserialize)]
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
            Some(s) => errs.check("status", s.parse::<Status>()),
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
}

#[cfg(test)]
mod change_tests {
    use super::*;
    use crate::domain::{Timestamp, User, UserId};

    #[test]
    fn a_new_email_is_unverified() {
        let now = Timestamp::now();
        let user = User {
            id: UserId::new(),
            email: Email::parse("ann@example.com").unwrap(),
            username: Username::parse("ann").unwrap(),
            display_name: None,
            profile_picture_url: None,
            status: Status::Active,
            is_admin: false,
            email_verified: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            version: 1,
            password_hash: None,
            authority: 0,
        };
        let same = Changes {
            email: Some(user.email.clone()),
            ..Default::default()
        };
        assert_eq!(same.apply(&user), (user.clone(), vec![]));
        let moved = Changes {
            email: Some(Email::parse("new@example.com").unwrap()),
            ..Default::default()
        };
        let (after, fields) = moved.apply(&user);
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

/// A PATCH of a user, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
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
}

/// A validated change to a user; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    pub email: Option<Email>,
    pub username: Option<Username>,
    pub display_name: Option<Option<DisplayName>>,
    pub profile_picture_url: Option<Option<PictureUrl>>,
    pub status: Option<Status>,
    pub is_admin: Option<bool>,
}

impl ChangesInput {
    /// Whether the change touches what only admins may change.
    pub fn is_privileged(&self) -> bool {
        self.status.is_some() || self.is_admin.is_some()
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
            .map(|s| errs.check("status", s.parse::<Status>()));
        errs.finish(|| {
            Some(Changes {
                email: email.map_or(Some(None), |e| e.map(Some))?,
                username: username.map_or(Some(None), |u| u.map(Some))?,
                display_name: display_name.map_or(Some(None), |d| d.map(Some))?,
                profile_picture_url: profile_picture_url.map_or(Some(None), |p| p.map(Some))?,
                status: status.map_or(Some(None), |s| s.map(Some))?,
                is_admin: self.is_admin,
            })
        })
    }
}

impl Changes {
    /// The user with the changes applied, and the names of the fields that really changed.
    pub fn apply(&self, user: &super::User) -> (super::User, Vec<&'static str>) {
        let mut after = user.clone();
        let mut changed = Vec::new();
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
        set!(status);
        set!(is_admin);
        // A new address is unproven until its owner follows the link mailed to it.
        if changed.contains(&"email") && after.email_verified {
            after.email_verified = false;
            changed.push("email_verified");
        }
        (after, changed)
    }
}
