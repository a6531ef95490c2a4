//! User profile items and the reservations that keep emails and usernames unique: their
//! shapes, and the conversions between them and `User`, side by side.

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{n, s, Attrs, Item};
use super::keys::{self, Key};
use super::StoreError;
use crate::domain::{DisplayName, Email, PictureUrl, Timestamp, User, UserId, Username};

pub(super) fn user_item(u: &User) -> Attrs {
    let mut item = keys::profile(u.id);
    let mut put = |k: &str, v: AttributeValue| {
        item.insert(k.to_owned(), v);
    };
    put("id", s(u.id.to_string()));
    put("email", s(u.email.as_str()));
    put("username", s(u.username.as_str()));
    put("status", s(u.status.as_str()));
    put("is_admin", AttributeValue::Bool(u.is_admin));
    put("email_verified", AttributeValue::Bool(u.email_verified));
    put("created_at", s(u.created_at.to_string()));
    put("updated_at", s(u.updated_at.to_string()));
    put("version", n(u.version));
    put("authority", n(u.authority));
    // Directory index keys: one partition, sort keys that make each sort order a Query.
    put("dir", s(keys::DIRECTORY));
    put("created_sk", s(format!("{}#{}", u.created_at, u.id)));
    // \u{1} sorts below every character a display name may hold (no control characters),
    // so the index orders by (name, id) exactly.
    let name = u
        .display_name
        .as_ref()
        .map_or(String::new(), |d| d.as_str().to_lowercase());
    put("name_sk", s(format!("{name}\u{1}{}", u.id)));
    // `q` searches one lowercased attribute: a filter may not name the index's own key
    // (email or username, when sorting by them), and one `contains` is cheaper than three.
    put(
        "search_text",
        s(format!("{}\u{1}{}\u{1}{name}", u.email, u.username)),
    );
    if let Some(d) = &u.display_name {
        put("display_name", s(d.as_str()));
        put("name_lc", s(name));
    }
    if let Some(p) = &u.profile_picture_url {
        put("profile_picture_url", s(p.as_str()));
    }
    if let Some(t) = u.last_login_at {
        put("last_login_at", s(t.to_string()));
    }
    if let Some(h) = &u.password_hash {
        put("password_hash", s(h));
    }
    item
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("user item has an invalid {what}"))
}

pub(super) fn user_from(item: &Item) -> Result<User, StoreError> {
    let ts = |name: &str| -> Result<Timestamp, StoreError> {
        Timestamp::parse(item.s(name)?).ok_or_else(|| corrupt(name))
    };
    let opt_ts = |name: &str| item.opt_s(name).and_then(Timestamp::parse);
    // Anonymised users hold placeholders that are not valid input, so stored values are
    // trusted as written rather than re-validated.
    Ok(User {
        id: UserId::parse(item.s("id")?).ok_or_else(|| corrupt("id"))?,
        email: Email::from_store(item.s("email")?),
        username: Username::from_store(item.s("username")?),
        display_name: item.opt_s("display_name").map(DisplayName::from_store),
        profile_picture_url: item
            .opt_s("profile_picture_url")
            .map(PictureUrl::from_store),
        status: item.s("status")?.parse().map_err(|_| corrupt("status"))?,
        is_admin: item.bool("is_admin"),
        email_verified: item.bool("email_verified"),
        created_at: ts("created_at")?,
        updated_at: ts("updated_at")?,
        last_login_at: opt_ts("last_login_at"),
        version: item.n("version")?,
        password_hash: item.opt_s("password_hash").map(str::to_owned),
        // Items written before authority versions existed hold none: version 0.
        authority: item.opt_n("authority").unwrap_or(0),
    })
}

/// A reservation item: its key, and the user holding the value.
pub(super) fn reservation_item(key: Key, id: UserId) -> Attrs {
    let mut item = key;
    item.insert("user_id".into(), s(id.to_string()));
    item
}
