//! What a user listing asks for: filters, sort and order, validated from the query
//! string (GET /users) or a body (POST /users/search).

use serde::Deserialize;

use super::input::Errors;
use super::FieldError;
use super::{Status, Timestamp, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    Email,
    Username,
    DisplayName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// A validated listing query. Prefixes and `q` are lowercased: every comparison is
/// case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub email: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub q: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub include_deleted: bool,
    pub email_verified: Option<bool>,
    pub sort: SortKey,
    pub order: Order,
}

/// The filters as sent, in a query string or a JSON body; kept as text so that every bad
/// value is reported with its field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub q: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    #[serde(default, deserialize_with = "scalar_text")]
    pub include_deleted: Option<String>,
    #[serde(default, deserialize_with = "scalar_text")]
    pub email_verified: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    #[serde(default, deserialize_with = "scalar_text")]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A JSON body says `"limit": 20` and `"include_deleted": true` where a query string can
/// only say text; both arrive here as text.
fn scalar_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Number(u64),
        Flag(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::Text(t) => t,
        Scalar::Number(n) => n.to_string(),
        Scalar::Flag(b) => b.to_string(),
    }))
}

const MAX_FILTER_CHARS: usize = 254;

impl ListParams {
    /// The query, the page size (1..100, default 20), and the cursor.
    pub fn validate(&self) -> Result<(ListQuery, u32, Option<String>), Vec<FieldError>> {
        let mut errs = Errors::default();
        let email = filter_text(&mut errs, "email", &self.email);
        let username = filter_text(&mut errs, "username", &self.username);
        let name = filter_text(&mut errs, "name", &self.name);
        let q = filter_text(&mut errs, "q", &self.q);
        let status = self
            .status
            .as_deref()
            .and_then(|s| errs.check("status", s.parse::<Status>()));
        let created_after = timestamp(&mut errs, "created_after", &self.created_after);
        let created_before = timestamp(&mut errs, "created_before", &self.created_before);
        check_range(&mut errs, created_after, created_before);
        let include_deleted = match self.include_deleted.as_deref() {
            None => Some(false),
            Some(raw) => flag(&mut errs, "include_deleted", raw),
        };
        let email_verified = match self.email_verified.as_deref() {
            None => Some(None),
            Some(raw) => flag(&mut errs, "email_verified", raw).map(Some),
        };
        let sort = sort_key(&mut errs, self.sort.as_deref());
        let order = order(&mut errs, self.order.as_deref(), sort);
        let limit = page_limit(&mut errs, self.limit.as_deref());
        errs.finish(|| {
            Some((
                ListQuery {
                    status,
                    email,
                    username,
                    name,
                    q,
                    created_after,
                    created_before,
                    include_deleted: include_deleted?,
                    email_verified: email_verified?,
                    sort: sort?,
                    order: order?,
                },
                limit?,
                self.cursor.clone(),
            ))
        })
    }
}

/// A prefix or search filter: trimmed, lowercased, absent when blank.
fn filter_text(errs: &mut Errors, field: &str, v: &Option<String>) -> Option<String> {
    let s = v.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
    let checked = if s.chars().count() > MAX_FILTER_CHARS {
        Err("is too long")
    } else if s.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else {
        Ok(s.to_lowercase())
    };
    errs.check(field, checked)
}

fn timestamp(errs: &mut Errors, field: &str, v: &Option<String>) -> Option<Timestamp> {
    let s = v.as_deref()?;
    errs.check(
        field,
        Timestamp::parse(s).ok_or("must be an RFC 3339 timestamp"),
    )
}

/// A reversed range is a mistake worth naming, not an empty answer (and DynamoDB refuses a
/// BETWEEN whose bounds are reversed).
fn check_range(errs: &mut Errors, after: Option<Timestamp>, before: Option<Timestamp>) {
    if let (Some(after), Some(before)) = (after, before) {
        if after > before {
            errs.check::<()>(
                "created_after",
                Err("must not be later than created_before"),
            );
            errs.check::<()>(
                "created_before",
                Err("must not be earlier than created_after"),
            );
        }
    }
}

fn flag(errs: &mut Errors, field: &str, raw: &str) -> Option<bool> {
    match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => errs.check(field, Err("must be true or false")),
    }
}

fn sort_key(errs: &mut Errors, raw: Option<&str>) -> Option<SortKey> {
    match raw {
        None | Some("created_at") => Some(SortKey::CreatedAt),
        Some("email") => Some(SortKey::Email),
        Some("username") => Some(SortKey::Username),
        Some("display_name") => Some(SortKey::DisplayName),
        Some(_) => errs.check(
            "sort",
            Err("must be created_at, email, username or display_name"),
        ),
    }
}

/// Newest first by default when sorting by creation; A to Z otherwise.
fn order(errs: &mut Errors, raw: Option<&str>, sort: Option<SortKey>) -> Option<Order> {
    match raw {
        None if sort == Some(SortKey::CreatedAt) => Some(Order::Desc),
        None | Some("asc") => Some(Order::Asc),
        Some("desc") => Some(Order::Desc),
        Some(_) => errs.check("order", Err("must be asc or desc")),
    }
}

/// The page size: 1 to 100, 20 when not given.
fn page_limit(errs: &mut Errors, raw: Option<&str>) -> Option<u32> {
    let Some(raw) = raw else {
        return Some(20);
    };
    errs.check(
        "limit",
        raw.parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or("must be from 1 to 100"),
    )
}

impl ListQuery {
    /// A canonical description of the query: a cursor is bound to it.
    pub fn scope(&self) -> String {
        format!("users:{self:?}")
    }

    /// Whether `user` belongs in the result: the reference the store's queries implement.
    pub fn matches(&self, user: &User) -> bool {
        let name = user
            .display_name
            .as_ref()
            .map(|d| d.as_str().to_lowercase());
        let starts = |value: Option<&str>, prefix: &Option<String>| {
            prefix
                .as_ref()
                .is_none_or(|p| value.is_some_and(|v| v.starts_with(p.as_str())))
        };
        (self.include_deleted
            || user.status != Status::Deleted
            || self.status == Some(Status::Deleted))
            && self.status.is_none_or(|s| s == user.status)
            && self.email_verified.is_none_or(|v| v == user.email_verified)
            && starts(Some(user.email.as_str()), &self.email)
            && starts(Some(user.username.as_str()), &self.username)
            && starts(name.as_deref(), &self.name)
            && self.created_after.is_none_or(|t| user.created_at >= t)
            && self.created_before.is_none_or(|t| user.created_at < t)
            && self.q.as_ref().is_none_or(|q| {
                user.email.as_str().contains(q.as_str())
                    || user.username.as_str().contains(q.as_str())
                    || name.as_deref().is_some_and(|n| n.contains(q.as_str()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let (q, limit, cursor) = ListParams::default().validate().unwrap();
        assert_eq!(
            (q.sort, q.order, limit, cursor),
            (SortKey::CreatedAt, Order::Desc, 20, None)
        );
        assert!(!q.include_deleted);
        let bad = ListParams {
            status: Some("gone".into()),
            sort: Some("age".into()),
            order: Some("up".into()),
            limit: Some("101".into()),
            created_after: Some("yesterday".into()),
            email_verified: Some("yes".into()),
            ..Default::default()
        };
        let fields: Vec<String> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "status",
                "created_after",
                "email_verified",
                "sort",
                "order",
                "limit"
            ]
        );
    }

    #[test]
    fn a_reversed_created_range_names_both_fields() {
        let reversed = ListParams {
            created_after: Some("2026-06-01T00:00:00Z".into()),
            created_before: Some("2026-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        let fields: Vec<String> = reversed
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["created_after", "created_before"]);
        let empty = ListParams {
            created_after: Some("2026-06-01T00:00:00Z".into()),
            created_before: Some("2026-06-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert!(empty.validate().is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Mostly valid values for a parameter, sometimes junk.
        fn value(valid: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
            prop::option::of(prop_oneof![
                4 => prop::sample::select(valid).prop_map(str::to_owned),
                1 => "[a-z0-9@._%:+ -]{0,12}",
                1 => any::<String>(),
            ])
        }

        const TIMES: &[&str] = &[
            "2026-01-01T00:00:00.000Z",
            "2026-11-30T12:00:00Z",
            "0001-01-01T00:00:00Z",
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59.999+14:00",
            "9999-12-31T23:59:59.999-14:00",
        ];

        prop_compose! {
            fn params()(
                status in value(&["active", "inactive", "deleted"]),
                email in value(&["ann", "a@b.c"]),
                username in value(&["ann"]),
                name in value(&["Ann"]),
                q in value(&["nn", "%"]),
                created_after in value(TIMES),
                created_before in value(TIMES),
                include_deleted in value(&["true", "false"]),
                sort in value(&["created_at", "email", "username", "display_name"]),
                order in value(&["asc", "desc"]),
                limit in value(&["1", "100", "0", "101", "-1"]),
                cursor in prop::option::of(any::<String>()),
                email_verified in value(&["true", "false", "yes"]),
            ) -> ListParams {
                ListParams {
                    status, email, username, name, q, created_after, created_before,
                    include_deleted, sort, order, limit, cursor, email_verified,
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// No input panics; what passes is a query the store can run: a range in
            /// order, a page size in 1..=100, filters without control characters and short
            /// enough for a key condition; what fails names a parameter it was given.
            #[test]
            fn validation_is_total_and_accepts_only_runnable_queries(p in params()) {
                match p.validate() {
                    Ok((query, limit, _)) => {
                        prop_assert!((1..=100).contains(&limit));
                        if let (Some(a), Some(b)) = (query.created_after, query.created_before) {
                            prop_assert!(a <= b);
                        }
                        for text in [&query.email, &query.username, &query.name, &query.q]
                            .into_iter()
                            .flatten()
                        {
                            prop_assert!(!text.is_empty() && text.len() <= 1024);
                            prop_assert!(!text.chars().any(char::is_control));
                        }
                    }
                    Err(errors) => {
                        prop_assert!(!errors.is_empty());
                        let given = format!("{p:?}");
                        for e in errors {
                            prop_assert!(given.contains(&format!("{}: Some", e.field)), "{}", e.field);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn scopes_differ_by_filter() {
        let a = ListParams {
            sort: Some("email".into()),
            ..Default::default()
        }
        .validate()
        .unwrap()
        .0;
        let b = ListParams {
            sort: Some("email".into()),
            q: Some("x".into()),
            ..Default::default()
        }
        .validate()
        .unwrap()
        .0;
        assert_ne!(a.scope(), b.scope());
    }
}
