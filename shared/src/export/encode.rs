//! Users to export bytes: the columns, their cells, CSV (RFC 4180, with formula
//! neutralising) and JSON rows, cut into upload parts as they fill. Pure: no I/O.

use std::borrow::Cow;

use bytes::Bytes;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::domain::export::{Fields, Format};
use crate::domain::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Email,
    Username,
    Name,
    Status,
    IsAdmin,
    EmailVerified,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

const MINIMAL: [Column; 3] = [Column::Id, Column::Email, Column::Name];
const FULL: [Column; 10] = [
    Column::Id,
    Column::Email,
    Column::Username,
    Column::Name,
    Column::Status,
    Column::IsAdmin,
    Column::EmailVerified,
    Column::CreatedAt,
    Column::UpdatedAt,
    Column::LastLoginAt,
];

impl Column {
    /// The CSV header and the JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Email => "email",
            Column::Username => "username",
            Column::Name => "name",
            Column::Status => "status",
            Column::IsAdmin => "is_admin",
            Column::EmailVerified => "email_verified",
            Column::CreatedAt => "created_at",
            Column::UpdatedAt => "updated_at",
            Column::LastLoginAt => "last_login_at",
        }
    }

    pub fn of(fields: Fields) -> &'static [Column] {
        match fields {
            Fields::Minimal => &MINIMAL,
            Fields::Full => &FULL,
        }
    }

    fn cell(self, user: &User) -> Cell<'_> {
        match self {
            Column::Id => Cell::Text(user.id.to_string().into()),
            Column::Email => Cell::Text(user.email.as_str().into()),
            Column::Username => Cell::Text(user.username.as_str().into()),
            Column::Name => user
                .display_name
                .as_ref()
                .map_or(Cell::Null, |d| Cell::Text(d.as_str().into())),
            Column::Status => Cell::Text(user.status.as_str().into()),
            Column::IsAdmin => Cell::Bool(user.is_admin),
            Column::EmailVerified => Cell::Bool(user.email_verified),
            Column::CreatedAt => Cell::Text(user.created_at.to_string().into()),
            Column::UpdatedAt => Cell::Text(user.updated_at.to_string().into()),
            Column::LastLoginAt => user
                .last_login_at
                .map_or(Cell::Null, |t| Cell::Text(t.to_string().into())),
        }
    }
}

/// One value: JSON keeps its type (`null`, `true`); CSV writes it as text (empty, `true`).
enum Cell<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Null,
}

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Text(t) => s.serialize_str(t),
            Cell::Bool(b) => s.serialize_bool(*b),
            Cell::Null => s.serialize_none(),
        }
    }
}

/// A CSV cell a spreadsheet shows as text: one that would start a formula gets a leading `'`.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if text.starts_with(crate::domain::export::FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

enum Sink {
    // Boxed: the writer's state is large and the JSON sink is a bare buffer.
    Csv(Box<csv::Writer<Vec<u8>>>),
    Json(Vec<u8>),
}

/// Room past a part's size, so a part's buffer never reallocates: the CSV writer's own
/// buffer plus the longest row fit in it many times over.
const SLACK: usize = 64 * 1024;

/// Encodes rows into a buffer and hands it out as an upload part whenever it reaches
/// `part_size`, so at most one part (plus a row) is ever held. Parts are cut at any byte,
/// not at row ends: the parts concatenate into the file.
pub struct Encoder {
    columns: &'static [Column],
    sink: Sink,
    part_size: usize,
    rows: u64,
}

impl Encoder {
    /// Starts the file: the CSV header, or the JSON array's `[`.
    pub fn new(format: Format, fields: Fields, part_size: usize) -> Result<Self, EncodeError> {
        let columns = Column::of(fields);
        let buffer = Vec::with_capacity(part_size + SLACK);
        let sink = match format {
            Format::Csv => {
                let mut w = csv_writer(buffer);
                w.write_record(columns.iter().map(|c| c.name()))?;
                Sink::Csv(w)
            }
            Format::Json => {
                let mut buffer = buffer;
                buffer.push(b'[');
                Sink::Json(buffer)
            }
        };
        Ok(Self {
            columns,
            sink,
            part_size,
            rows: 0,
        })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds a row; returns a full part when this row completed one.
    pub fn push(&mut self, user: &User) -> Result<Option<Bytes>, EncodeError> {
        match &mut self.sink {
            Sink::Csv(w) => {
                for column in self.columns {
                    match column.cell(user) {
                        Cell::Text(t) => w.write_field(neutralise(&t).as_bytes())?,
                        Cell::Bool(b) => w.write_field(if b { "true" } else { "false" })?,
                        Cell::Null => w.write_field("")?,
                    }
                }
                w.write_record(None::<&[u8]>)?;
            }
            Sink::Json(buffer) => {
                buffer.extend_from_slice(if self.rows == 0 { b"\n" } else { b",\n" });
                let mut ser = serde_json::Serializer::new(&mut *buffer);
                let mut map = ser.serialize_map(Some(self.columns.len()))?;
                for column in self.columns {
                    map.serialize_entry(column.name(), &column.cell(user))?;
                }
                map.end()?;
            }
        }
        self.rows += 1;
        self.take_full()
    }

    /// Ends the file and returns what is left: the last part, which may be short (S3 allows
    /// that of the last part) and is empty only when the file ended exactly on a part.
    pub fn finish(self) -> Result<Bytes, EncodeError> {
        let rest = match self.sink {
            Sink::Csv(w) => w.into_inner().map_err(|e| e.into_error())?,
            Sink::Json(mut buffer) => {
                buffer.extend_from_slice(if self.rows == 0 { b"]" } else { b"\n]" });
                buffer
            }
        };
        Ok(Bytes::from(rest))
    }

    fn take_full(&mut self) -> Result<Option<Bytes>, EncodeError> {
        let fresh = || Vec::with_capacity(self.part_size + SLACK);
        let part = match &mut self.sink {
            // The CSV writer keeps a small buffer of its own; what it holds back joins the
            // part when the part is cut (the writer flushes as it hands over its output).
            Sink::Csv(w) if w.get_ref().len() >= self.part_size => {
                let full = std::mem::replace(w, csv_writer(fresh()));
                full.into_inner().map_err(|e| e.into_error())?
            }
            Sink::Json(buffer) if buffer.len() >= self.part_size => {
                std::mem::replace(buffer, fresh())
            }
            _ => return Ok(None),
        };
        Ok(Some(Bytes::from(part)))
    }
}

/// RFC 4180: CRLF line ends, fields quoted only when they must be.
fn csv_writer(buffer: Vec<u8>) -> Box<csv::Writer<Vec<u8>>> {
    Box::new(
        csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(buffer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::export::FORMULA_STARTS;
    use crate::domain::{DisplayName, Email, Status, Timestamp, UserId, Username};

    fn user(name: Option<&str>) -> User {
        let t = Timestamp::parse("2026-11-23T10:30:00.123Z").unwrap();
        User {
            id: UserId::new(),
            email: Email::parse("ann@example.com").unwrap(),
            username: Username::parse("ann").unwrap(),
            display_name: name.map(DisplayName::from_store),
            profile_picture_url: None,
            status: Status::Active,
            is_admin: true,
            email_verified: false,
            created_at: t,
            updated_at: t,
            last_login_at: None,
            version: 1,
            authority: 1,
            password_hash: Some("secret-hash".into()),
        }
    }

    fn encode(format: Format, fields: Fields, users: &[User], part_size: usize) -> Vec<Bytes> {
        let mut enc = Encoder::new(format, fields, part_size).unwrap();
        let mut parts = Vec::new();
        for u in users {
            parts.extend(enc.push(u).unwrap());
        }
        parts.push(enc.finish().unwrap());
        parts
    }

    fn whole(parts: &[Bytes]) -> String {
        String::from_utf8(parts.concat()).unwrap()
    }

    #[test]
    fn neutralises_formula_starts_only() {
        for bad in ["=1+1", "+1", "-2", "@x", "\tx", "\rx", "\nx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for fine in ["Ann", "1-2", "a=b", "'quoted", ""] {
            assert_eq!(neutralise(fine), fine);
        }
    }

    #[test]
    fn csv_quotes_per_rfc_4180_and_neutralises() {
        let u = user(Some("=HYPERLINK(\"http://x\"), \"Ann\"\nLee"));
        let text = whole(&encode(
            Format::Csv,
            Fields::Minimal,
            std::slice::from_ref(&u),
            1 << 20,
        ));
        assert_eq!(
            text,
            format!(
                "id,email,name\r\n{},ann@example.com,\"'=HYPERLINK(\"\"http://x\"\"), \"\"Ann\"\"\nLee\"\r\n",
                u.id
            )
        );
    }

    #[test]
    fn full_columns_in_order_without_secrets() {
        let u = user(None);
        let text = whole(&encode(
            Format::Csv,
            Fields::Full,
            std::slice::from_ref(&u),
            1 << 20,
        ));
        let t = "2026-11-23T10:30:00.123Z";
        assert_eq!(
            text,
            format!(
                "id,email,username,name,status,is_admin,email_verified,created_at,updated_at,last_login_at\r\n\
                 {},ann@example.com,ann,,active,true,false,{t},{t},\r\n",
                u.id
            )
        );
        assert!(!text.contains("secret-hash"));
    }

    #[test]
    fn json_is_an_array_of_objects_with_the_csv_keys() {
        let users = [user(Some("=Ann")), user(None)];
        let text = whole(&encode(Format::Json, Fields::Full, &users, 1 << 20));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let rows = value.as_array().unwrap();
        assert_eq!(rows.len(), 2);
        let names: Vec<&str> = Column::of(Fields::Full).iter().map(|c| c.name()).collect();
        let mut keys: Vec<&str> = rows[0]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        // Keys come in the CSV's column order.
        let first_row = text.lines().nth(1).unwrap();
        let positions: Vec<usize> = names
            .iter()
            .map(|n| first_row.find(&format!("\"{n}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first_row}");
        // JSON is not read by spreadsheets: values stay exactly as they are, typed.
        assert_eq!(rows[0]["name"], "=Ann");
        assert_eq!(rows[0]["is_admin"], true);
        assert!(rows[1]["name"].is_null() && rows[1]["last_login_at"].is_null());
    }

    #[test]
    fn empty_exports_are_valid_files() {
        assert_eq!(
            whole(&encode(Format::Csv, Fields::Minimal, &[], 1 << 20)),
            "id,email,name\r\n"
        );
        assert_eq!(
            whole(&encode(Format::Json, Fields::Full, &[], 1 << 20)),
            "[]"
        );
    }

    #[test]
    fn parts_fill_to_size_and_concatenate_to_the_file() {
        let users: Vec<User> = (0..500).map(|i| user(Some(&format!("User {i}")))).collect();
        for format in [Format::Csv, Format::Json] {
            let parts = encode(format, Fields::Full, &users, 4096);
            assert!(parts.len() > 5, "{format:?}: {} parts", parts.len());
            let (last, full) = parts.split_last().unwrap();
            for p in full {
                assert!(p.len() >= 4096 && p.len() < 4096 + SLACK, "{}", p.len());
            }
            assert!(last.len() < 4096 + SLACK);
            let single = encode(format, Fields::Full, &users, 1 << 20);
            assert_eq!(single.len(), 1);
            assert_eq!(parts.concat(), single[0]);
        }
    }

    proptest::proptest! {
        /// Whatever the name, the CSV parses back (RFC 4180) to one row whose cell is the
        /// name, with a `'` in front exactly when it would start a formula.
        #[test]
        fn any_name_round_trips_through_csv_and_never_starts_a_formula(name in ".{0,60}") {
            let u = user(Some(&name));
            let text = whole(&encode(Format::Csv, Fields::Minimal, std::slice::from_ref(&u), 1 << 20));
            let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
            proptest::prop_assert_eq!(rows.len(), 1);
            let cell = &rows[0][2];
            proptest::prop_assert!(!cell.starts_with(FORMULA_STARTS), "{:?}", cell);
            let original = if name.starts_with(FORMULA_STARTS) { &cell[1..] } else { cell };
            proptest::prop_assert_eq!(original, name.as_str());
        }

        #[test]
        fn neutralise_adds_one_quote_to_formulas_only(text in ".*") {
            let out = neutralise(&text);
            if text.starts_with(FORMULA_STARTS) {
                let quoted = format!("'{text}");
                proptest::prop_assert_eq!(out.as_ref(), quoted.as_str());
            } else {
                proptest::prop_assert_eq!(out.as_ref(), text.as_str());
            }
        }
    }
}
