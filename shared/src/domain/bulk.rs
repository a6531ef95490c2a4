//! The rules of POST and PATCH /users/bulk that hold across a request's items.

use std::collections::HashSet;

use super::field::FieldError;
use super::input::NewUser;
use super::{Email, UserId, Username};

pub const MAX_BULK_ITEMS: usize = 100;

/// A bulk request holds 1 to `MAX_BULK_ITEMS` items.
pub fn check_size(len: usize) -> Result<(), &'static str> {
    if len == 0 || len > MAX_BULK_ITEMS {
        return Err("must hold 1 to 100 items");
    }
    Ok(())
}

/// Which name of a new user an earlier item of the same request already claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeated {
    Email,
    Username,
}

/// The emails and usernames the items of one bulk create claimed so far. Items are
/// claimed in request order, so the first occurrence wins, as it would one request at a
/// time.
#[derive(Debug, Default)]
pub struct Claimed {
    emails: HashSet<Email>,
    usernames: HashSet<Username>,
}

impl Claimed {
    /// Claims `new`'s names. Its email stays claimed even when its username was taken.
    pub fn claim(&mut self, new: &NewUser) -> Result<(), Repeated> {
        if !self.emails.insert(new.email.clone()) {
            return Err(Repeated::Email);
        }
        if !self.usernames.insert(new.username.clone()) {
            return Err(Repeated::Username);
        }
        Ok(())
    }
}

/// The ids of a bulk update: every one a user id, and none twice (it would be applied
/// twice); ids are compared as the users they name (UUIDs in any case), not as text. A
/// malformed id makes the request malformed, like a repeated one: no item is applied.
pub fn parse_ids(raw: &[String]) -> Result<Vec<UserId>, FieldError> {
    let mut seen = HashSet::new();
    raw.iter()
        .enumerate()
        .map(|(i, raw)| {
            let id = UserId::parse(raw)
                .ok_or_else(|| FieldError::new(format!("ids[{i}]"), "must be a user id"))?;
            if !seen.insert(id) {
                return Err(FieldError::new("ids", "must not repeat an id"));
            }
            Ok(id)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::input::NewUserInput;

    fn new_user(email: &str, username: &str) -> NewUser {
        NewUserInput {
            email: Some(email.into()),
            username: Some(username.into()),
            ..Default::default()
        }
        .validate(false)
        .unwrap()
    }

    #[test]
    fn the_first_claim_of_a_name_wins() {
        let mut claimed = Claimed::default();
        assert_eq!(claimed.claim(&new_user("a@example.com", "ann")), Ok(()));
        assert_eq!(
            claimed.claim(&new_user("A@example.com", "bob")),
            Err(Repeated::Email)
        );
        assert_eq!(
            claimed.claim(&new_user("b@example.com", "ANN")),
            Err(Repeated::Username)
        );
        // The refused item's email was claimed before its username was found taken.
        assert_eq!(
            claimed.claim(&new_user("b@example.com", "bea")),
            Err(Repeated::Email)
        );
    }

    #[test]
    fn ids_repeat_as_users_not_as_text_and_must_be_ids() {
        let id = UserId::new().to_string();
        let field = |ids: &[String]| parse_ids(ids).map_err(|e| e.field);
        assert_eq!(field(&[id.clone(), id.to_uppercase()]), Err("ids".into()));
        assert_eq!(field(&[id.clone(), "x".into()]), Err("ids[1]".into()));
        let other = UserId::new();
        let parsed = parse_ids(&[id.clone(), other.to_string()]).unwrap();
        assert_eq!(parsed[0].to_string(), id);
        assert_eq!(parsed[1], other);
    }

    #[test]
    fn sizes_are_one_to_a_hundred() {
        assert!(check_size(0).is_err());
        assert!(check_size(1).is_ok());
        assert!(check_size(MAX_BULK_ITEMS).is_ok());
        assert!(check_size(MAX_BULK_ITEMS + 1).is_err());
    }
}
