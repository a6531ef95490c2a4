//! The rules of POST and PATCH /users/bulk that hold across a request's items.

use std::collections::HashSet;

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

/// Whether an id appears twice (it would be applied twice). Ids are compared as the users
/// they name (UUIDs in any case), not as text.
pub fn repeats_an_id(ids: &[String]) -> bool {
    let mut seen = HashSet::new();
    ids.iter().any(|raw| {
        let key = UserId::parse(raw).map_or_else(|| raw.clone(), |id| id.to_string());
        !seen.insert(key)
    })
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
    fn ids_repeat_as_users_not_as_text() {
        let id = UserId::new().to_string();
        assert!(repeats_an_id(&[id.clone(), id.to_uppercase()]));
        assert!(repeats_an_id(&["x".into(), "x".into()]));
        assert!(!repeats_an_id(&[id, UserId::new().to_string(), "x".into()]));
    }

    #[test]
    fn sizes_are_one_to_a_hundred() {
        assert!(check_size(0).is_err());
        assert!(check_size(1).is_ok());
        assert!(check_size(MAX_BULK_ITEMS).is_ok());
        assert!(check_size(MAX_BULK_ITEMS + 1).is_err());
    }
}
