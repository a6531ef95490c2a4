//! Pages of a list and where the next one starts, as plain strings the cursor can seal.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

/// Where a Query stopped, as plain strings (every key attribute of ours is a string).
pub type Position = BTreeMap<String, String>;

/// One page of a list and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Position>,
    /// Items DynamoDB read to make the page (its ScannedCount): the page's cost.
    pub read: usize,
}

/// The `ExclusiveStartKey` a position stands for.
pub(super) fn position_to_key(p: Position) -> HashMap<String, AttributeValue> {
    p.into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect()
}

/// The position of a `LastEvaluatedKey`.
pub(super) fn key_to_position(k: HashMap<String, AttributeValue>) -> Position {
    k.into_iter()
        .filter_map(|(name, v)| v.as_s().ok().map(|s| (name, s.clone())))
        .collect()
}
