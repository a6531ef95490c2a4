//! Creates the local table and bucket. The table's keys and indexes are read from
//! template.yaml, so the local schema cannot drift from what AWS gets.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use serde_yaml::Value;
use userhub::accounts::bootstrap::{ensure_admin, Bootstrap};

const TEMPLATE: &str = include_str!("../../../template.yaml");

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("template.yaml: {0}")]
    Template(String),
    #[error("dynamodb: {0}")]
    Dynamodb(String),
    #[error("s3: {0}")]
    S3(String),
}

fn template_err(msg: impl Into<String>) -> SetupError {
    SetupError::Template(msg.into())
}

/// The table definition of template.yaml's `UsersTable`, as SDK types.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub attributes: Vec<AttributeDefinition>,
    pub keys: Vec<KeySchemaElement>,
    pub indexes: Vec<GlobalSecondaryIndex>,
}

impl TableSchema {
    pub fn from_template() -> Result<Self, SetupError> {
        Self::parse(TEMPLATE)
    }

    pub fn parse(template: &str) -> Result<Self, SetupError> {
        let doc: Value = serde_yaml::from_str(template).map_err(|e| template_err(e.to_string()))?;
        let props = &doc["Resources"]["UsersTable"]["Properties"];
        if props.is_null() {
            return Err(template_err("no Resources.UsersTable.Properties"));
        }
        let attributes = seq(&props["AttributeDefinitions"], "AttributeDefinitions")?
            .iter()
            .map(|a| {
                let kind = match text(&a["AttributeType"], "AttributeType")? {
                    "S" => ScalarAttributeType::S,
                    "N" => ScalarAttributeType::N,
                    "B" => ScalarAttributeType::B,
                    other => return Err(template_err(format!("attribute type {other}"))),
                };
                AttributeDefinition::builder()
                    .attribute_name(text(&a["AttributeName"], "AttributeName")?)
                    .attribute_type(kind)
                    .build()
                    .map_err(|e| template_err(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let keys = key_schema(&props["KeySchema"])?;
        let indexes = match &props["GlobalSecondaryIndexes"] {
            Value::Null => Vec::new(),
            gsis => seq(gsis, "GlobalSecondaryIndexes")?
                .iter()
                .map(|g| {
                    GlobalSecondaryIndex::builder()
                        .index_name(text(&g["IndexName"], "IndexName")?)
                        .set_key_schema(Some(key_schema(&g["KeySchema"])?))
                        .projection(projection(&g["Projection"])?)
                        .build()
                        .map_err(|e| template_err(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Self {
            attributes,
            keys,
            indexes,
        })
    }
}

/// An index's `Projection`: `ALL`, `KEYS_ONLY`, or `INCLUDE` with its `NonKeyAttributes`.
fn projection(v: &Value) -> Result<Projection, SetupError> {
    let kind = match text(&v["ProjectionType"], "ProjectionType")? {
        "ALL" => ProjectionType::All,
        "KEYS_ONLY" => ProjectionType::KeysOnly,
        "INCLUDE" => ProjectionType::Include,
        other => {
            return Err(template_err(format!(
                "projection {other} is not supported locally"
            )))
        }
    };
    let attributes = match &v["NonKeyAttributes"] {
        Value::Null => None,
        names => Some(
            seq(names, "NonKeyAttributes")?
                .iter()
                .map(|n| text(n, "NonKeyAttributes").map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(Projection::builder()
        .projection_type(kind)
        .set_non_key_attributes(attributes)
        .build())
}

fn seq<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, SetupError> {
    v.as_sequence()
        .ok_or_else(|| template_err(format!("{what} must be a list")))
}

fn text<'a>(v: &'a Value, what: &str) -> Result<&'a str, SetupError> {
    v.as_str()
        .ok_or_else(|| template_err(format!("{what} must be a literal string")))
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>, SetupError> {
    seq(v, "KeySchema")?
        .iter()
        .map(|k| {
            let kind = match text(&k["KeyType"], "KeyType")? {
                "HASH" => KeyType::Hash,
                "RANGE" => KeyType::Range,
                other => return Err(template_err(format!("key type {other}"))),
            };
            KeySchemaElement::builder()
                .attribute_name(text(&k["AttributeName"], "AttributeName")?)
                .key_type(kind)
                .build()
                .map_err(|e| template_err(e.to_string()))
        })
        .collect()
}

/// Creates the table unless it exists, and waits until it is active.
pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), SetupError> {
    let schema = TableSchema::from_template()?;
    let exists = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .is_ok();
    if !exists {
        client
            .create_table()
            .table_name(name)
            .set_attribute_definitions(Some(schema.attributes))
            .set_key_schema(Some(schema.keys))
            .set_global_secondary_indexes(Some(schema.indexes).filter(|i| !i.is_empty()))
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(|e| SetupError::Dynamodb(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| SetupError::Dynamodb(format!("{e:?}")))?;
    }
    Ok(())
}

/// Creates the bucket unless it exists.
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, name: &str) -> Result<(), SetupError> {
    if client.head_bucket().bucket(name).send().await.is_ok() {
        return Ok(());
    }
    client
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(|e| SetupError::S3(format!("{e:?}")))?;
    Ok(())
}

/// `accounts::bootstrap::ensure_admin` with BOOTSTRAP_ADMIN_EMAIL / BOOTSTRAP_ADMIN_PASSWORD from the
/// environment, and what happened said once on stdout (never in the logs).
pub async fn bootstrap_admin_from_env(ctx: &userhub::Ctx) -> Result<Bootstrap, userhub::Error> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let outcome = ensure_admin(
        ctx,
        var("BOOTSTRAP_ADMIN_EMAIL"),
        var("BOOTSTRAP_ADMIN_PASSWORD"),
    )
    .await?;
    match &outcome {
        Bootstrap::Exists => println!("an active admin exists already"),
        Bootstrap::Created { email } => println!("created admin {email}"),
        Bootstrap::Generated { email, password } => {
            println!("\n  first admin created: {email}\n  password (shown once): {password}\n")
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_template() {
        let schema = TableSchema::from_template().unwrap();
        let names: Vec<_> = schema.indexes.iter().map(|i| i.index_name()).collect();
        assert!(names.contains(&"email-index"), "{names:?}");
        assert_eq!(schema.keys.len(), 2);
        assert!(schema.attributes.iter().any(|a| a.attribute_name() == "pk"));
    }

    #[test]
    fn no_index_projects_the_password_hash() {
        for index in TableSchema::from_template().unwrap().indexes {
            let projection = index.projection().unwrap();
            assert_eq!(
                projection.projection_type(),
                Some(&ProjectionType::Include),
                "{:?}",
                index.index_name()
            );
            let names = projection.non_key_attributes();
            assert!(names.iter().any(|n| n == "version"), "{names:?}");
            assert!(!names.iter().any(|n| n == "password_hash"), "{names:?}");
        }
    }

    #[test]
    fn rejects_a_template_without_the_table() {
        assert!(TableSchema::parse("Resources: {}").is_err());
        assert!(TableSchema::parse(": : :").is_err());
    }
}
