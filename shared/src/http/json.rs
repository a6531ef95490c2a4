//! Request-body and query extractors that fail with problem+json, never with axum's
//! plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::{self, DeserializeOwned, Visitor};

use crate::error::{Error, FieldError};

/// Bodies above this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body: `application/json` only (415), at most 1 MiB (413), well-formed (400
/// `malformed_json`), no fields the type does not know (400 `unknown_fields`, listing all).
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, _: &S) -> Result<Self, Error> {
        if !is_json(req.headers()) {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| Error::PayloadTooLarge)?;
        parse(&bytes).map(Json)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a body in three steps so each failure gets its own precise answer.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request(
            "malformed_json",
            "request body is empty",
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::bad_request(
            "malformed_json",
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    from_value(value)
}

/// Deserialises an already parsed value with the same checks as a body: unknown fields
/// listed, then typed fields with the path of the first bad one.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    let known = struct_fields::<T>();
    // serde fills a struct from an array too, field by field in order (`["a@b.co", 3]`);
    // an API whose bodies are objects with named fields must not.
    if known.is_some() && !value.is_object() {
        return Err(Error::Validation(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]));
    }
    if let (serde_json::Value::Object(map), Some(known)) = (&value, known) {
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(Error::UnknownFields(unknown));
        }
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // Nested objects reject unknown fields through serde: same code as the top level.
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or_default();
            let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
            let field = if parent.is_empty() || parent == "." {
                name.to_owned()
            } else {
                format!("{parent}.{name}")
            };
            return Error::UnknownFields(vec![field]);
        }
        let field = if path == "." { "body".to_owned() } else { path };
        Error::Validation(vec![FieldError::new(field, message)])
    })
}

/// Query strings, with a 400 `bad_request` problem naming what was wrong.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|e| {
                Error::bad_request(
                    "bad_request",
                    format!("invalid query string: {}", e.body_text()),
                )
            })
    }
}

/// The field names a `Deserialize` struct accepts, read from what its derived impl asks of
/// the deserializer. `None` for anything that is not a plain struct.
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut fields = None;
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct ProbeDone;

impl std::fmt::Display for ProbeDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("probe done")
    }
}

impl std::error::Error for ProbeDone {}

impl de::Error for ProbeDone {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        ProbeDone
    }
}

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = ProbeDone;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeDone> {
        Err(ProbeDone)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbeDone> {
        *self.0 = Some(fields);
        Err(ProbeDone)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        email: String,
        age: Option<u32>,
    }

    fn code(err: Error) -> String {
        use axum::response::IntoResponse;
        let res = err.into_response();
        res.extensions()
            .get::<crate::error::Problem>()
            .unwrap()
            .code
            .to_owned()
    }

    #[test]
    fn parses_good_bodies() {
        let b: Body = parse(br#"{"email":"a@b.co","age":3}"#).unwrap();
        assert_eq!(
            b,
            Body {
                email: "a@b.co".into(),
                age: Some(3)
            }
        );
    }

    #[test]
    fn reports_every_unknown_field() {
        match parse::<Body>(br#"{"email":"x","zip":1,"role":"admin"}"#) {
            Err(Error::UnknownFields(mut f)) => {
                f.sort();
                assert_eq!(f, vec!["role", "zip"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn distinguishes_malformed_empty_and_wrong_types() {
        assert_eq!(
            code(parse::<Body>(b"{\"email\":").unwrap_err()),
            "malformed_json"
        );
        assert_eq!(code(parse::<Body>(b"  ").unwrap_err()), "malformed_json");
        assert_eq!(
            code(parse::<Body>(b"\xff\xfe").unwrap_err()),
            "malformed_json"
        );
        match parse::<Body>(br#"{"email":"x","age":"old"}"#) {
            Err(Error::Validation(errors)) => assert_eq!(errors[0].field, "age"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            code(parse::<Body>(b"[1,2]").unwrap_err()),
            "validation_failed"
        );
        // An array that would fill the struct field by field is still not an object.
        match parse::<Body>(br#"["a@b.co", 3]"#) {
            Err(Error::Validation(errors)) => assert_eq!(errors[0].field, "body"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(is_json(&h));
    }
}
