//! Reading an import file from S3 as a stream of rows: the object's body is parsed on a
//! blocking thread (the `csv` crate and serde_json read synchronously) and handed over
//! through a bounded channel, so memory holds a few rows whatever the file's size.

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use crate::domain::import::{columns, unprotect, Column, ImportFormat, RawRow, UnknownColumns};

/// Rows parsed ahead of the writer.
const READ_AHEAD: usize = 1024;

/// Why a file cannot be imported at all. `Display` is shown to clients as the job's error,
/// so it names rows and columns, never cell contents.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FileError {
    #[error("no file was uploaded")]
    Missing,
    #[error("the file is {size} bytes, above the limit of {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error(transparent)]
    UnknownColumns(#[from] UnknownColumns),
    #[error("the file has no email column")]
    NoEmailColumn,
    #[error("the file is not valid {format}: {detail}")]
    Malformed {
        format: &'static str,
        detail: String,
    },
    #[error("reading the file from S3 failed")]
    Read,
}

/// A stream of a file's rows, in order, each numbered from 1.
pub struct Rows {
    rx: mpsc::Receiver<Result<RawRow, FileError>>,
}

impl Rows {
    pub async fn next(&mut self) -> Option<Result<RawRow, FileError>> {
        self.rx.recv().await
    }
}

/// Opens the object and starts parsing it in the background.
#[tracing::instrument(skip(s3))]
pub async fn open(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    format: ImportFormat,
) -> Result<Rows, FileError> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            tracing::error!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "reading the import file failed");
            FileError::Read
        })?;
    let body = SyncIoBridge::new(object.body.into_async_read());
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let sink = Sink { tx };
        let result = match format {
            ImportFormat::Csv => read_csv(body, &sink),
            ImportFormat::Json => read_json_array(body, &sink),
            ImportFormat::Ndjson => read_ndjson(body, &sink),
        };
        if let Err(e) = result {
            sink.send(Err(e));
        }
    });
    Ok(Rows { rx })
}

struct Sink {
    tx: mpsc::Sender<Result<RawRow, FileError>>,
}

impl Sink {
    /// False once the reader has gone away (the run stopped early): parsing stops too.
    fn send(&self, row: Result<RawRow, FileError>) -> bool {
        self.tx.blocking_send(row).is_ok()
    }
}

fn read_csv(body: impl std::io::Read, sink: &Sink) -> Result<(), FileError> {
    let malformed = |e: csv::Error| FileError::Malformed {
        format: "CSV",
        detail: match e.kind() {
            csv::ErrorKind::UnequalLengths {
                pos,
                expected_len,
                len,
            } => format!(
                "row {} has {len} cells where the header has {expected_len}",
                pos.as_ref().map_or(0, csv::Position::record)
            ),
            csv::ErrorKind::Utf8 { pos, .. } => format!(
                "row {} is not UTF-8",
                pos.as_ref().map_or(0, csv::Position::record)
            ),
            _ => "it cannot be parsed".to_owned(),
        },
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(malformed)?
        .iter()
        .map(str::to_owned)
        .collect();
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    let columns = columns(&names)?;
    if !columns.contains(&Column::Email) {
        return Err(FileError::NoEmailColumn);
    }
    let mut record = csv::StringRecord::new();
    let mut number = 0;
    while reader.read_record(&mut record).map_err(malformed)? {
        number += 1;
        let cells = columns
            .iter()
            .zip(record.iter())
            .filter_map(|(c, v)| present(unprotect(v)).map(|v| (*c, v)))
            .collect();
        if !sink.send(Ok(RawRow { number, cells })) {
            break;
        }
    }
    Ok(())
}

/// An empty (or blank) cell is an absent value.
fn present(v: &str) -> Option<String> {
    (!v.trim().is_empty()).then(|| v.to_owned())
}

/// Keys no column has, collected over a whole JSON file: the file then fails, naming each.
#[derive(Default)]
struct Unknown(std::collections::BTreeSet<String>);

impl Unknown {
    fn finish(self) -> Result<(), FileError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(UnknownColumns(self.0.into_iter().collect()).into())
        }
    }
}

/// A JSON object as a row; keys that are no column go to `unknown`.
fn json_row(number: u64, object: Map<String, Value>, unknown: &mut Unknown) -> RawRow {
    let mut cells = Vec::with_capacity(object.len());
    for (key, value) in object {
        let Some(column) = Column::parse(&key) else {
            unknown.0.insert(format!("{:?}", key.trim()));
            continue;
        };
        let text = match value {
            Value::Null => None,
            Value::String(s) => present(&s),
            Value::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        };
        if let Some(text) = text {
            cells.push((column, text));
        }
    }
    RawRow { number, cells }
}

fn json_error(format: &'static str) -> impl Fn(serde_json::Error) -> FileError {
    move |e| FileError::Malformed {
        format,
        detail: format!("line {} column {}: {}", e.line(), e.column(), e_kind(&e)),
    }
}

/// serde_json's messages can quote input; only its category is shown.
fn e_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "every row must be a JSON object",
        serde_json::error::Category::Eof => "unexpected end of file",
        serde_json::error::Category::Io => "read error",
    }
}

fn read_ndjson(body: impl std::io::Read, sink: &Sink) -> Result<(), FileError> {
    let rows = serde_json::Deserializer::from_reader(body).into_iter::<Map<String, Value>>();
    let mut unknown = Unknown::default();
    for (i, object) in rows.enumerate() {
        let row = json_row(
            i as u64 + 1,
            object.map_err(json_error("NDJSON"))?,
            &mut unknown,
        );
        if !sink.send(Ok(row)) {
            break;
        }
    }
    unknown.finish()
}

/// Streams the elements of a top-level JSON array one by one.
fn read_json_array(body: impl std::io::Read, sink: &Sink) -> Result<(), FileError> {
    let mut de = serde_json::Deserializer::from_reader(body);
    let mut unknown = Unknown::default();
    ArraySeed {
        sink,
        unknown: &mut unknown,
    }
    .deserialize(&mut de)
    .map_err(json_error("JSON"))?;
    de.end().map_err(json_error("JSON"))?;
    unknown.finish()
}

struct ArraySeed<'a> {
    sink: &'a Sink,
    unknown: &'a mut Unknown,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut number = 0;
        while let Some(object) = seq.next_element::<Map<String, Value>>()? {
            number += 1;
            if !self.sink.send(Ok(json_row(number, object, self.unknown))) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(format: ImportFormat, text: &str) -> Vec<Result<RawRow, FileError>> {
        let (tx, mut rx) = mpsc::channel(100);
        let body = text.as_bytes().to_vec();
        std::thread::spawn(move || {
            let sink = Sink { tx };
            let r = match format {
                ImportFormat::Csv => read_csv(body.as_slice(), &sink),
                ImportFormat::Json => read_json_array(body.as_slice(), &sink),
                ImportFormat::Ndjson => read_ndjson(body.as_slice(), &sink),
            };
            if let Err(e) = r {
                sink.send(Err(e));
            }
        })
        .join()
        .unwrap();
        let mut out = Vec::new();
        while let Ok(r) = rx.try_recv() {
            out.push(r);
        }
        out
    }

    #[test]
    fn csv_rows_drop_empty_cells_and_unprotect() {
        let rows = collect(
            ImportFormat::Csv,
            "email,name,is_admin\r\nann@example.com,'=1+2,\r\nbob@example.com,,true\r\n",
        );
        let rows: Vec<RawRow> = rows.into_iter().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].cells,
            [
                (Column::Email, "ann@example.com".to_owned()),
                (Column::Name, "=1+2".to_owned())
            ]
        );
        assert_eq!(rows[1].number, 2);
        assert_eq!(rows[1].cells.len(), 2);
    }

    #[test]
    fn unknown_columns_fail_the_file() {
        let rows = collect(ImportFormat::Csv, "email,phone,role\nann@example.com,1,2\n");
        assert!(matches!(&rows[..], [Err(FileError::UnknownColumns(c))] if c.0.len() == 2));
        let rows = collect(
            ImportFormat::Json,
            r#"[{"email": "a@example.com"}, {"email": "b@example.com", "phone": 1}]"#,
        );
        assert!(rows[0].is_ok() && rows[1].is_ok());
        assert!(matches!(&rows[2], Err(FileError::UnknownColumns(c)) if c.0 == ["\"phone\""]));
    }

    #[test]
    fn json_and_ndjson_stream_objects() {
        let rows = collect(
            ImportFormat::Json,
            r#"[{"email": "a@example.com", "is_admin": false, "name": null}, {"email": "b@example.com"}]"#,
        );
        assert_eq!(rows.len(), 2);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.cells.len(), 2);
        let rows = collect(
            ImportFormat::Ndjson,
            "{\"email\": \"a@example.com\"}\n\n{\"email\": \"b@example.com\"}\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].as_ref().unwrap().number, 2);
        let bad = collect(ImportFormat::Json, "[{\"email\": 1},");
        assert!(matches!(bad.last(), Some(Err(FileError::Malformed { .. }))));
    }
}
