//! Reading and writing DynamoDB attribute maps without scattering `AttributeValue` matches.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;

/// An item's attributes as the SDK takes them (a key, an item to put, expression values).
pub(super) type Attrs = HashMap<String, AttributeValue>;

/// An item read from the table, with typed accessors that report shape errors.
#[derive(Debug, Clone, Default)]
pub struct Item(pub HashMap<String, AttributeValue>);

impl Item {
    pub fn s(&self, name: &str) -> Result<&str, StoreError> {
        self.opt_s(name)
            .ok_or_else(|| StoreError::Corrupt(format!("missing string attribute {name}")))
    }

    pub fn opt_s(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(AttributeValue::S(s)) => Some(s),
            _ => None,
        }
    }

    pub fn n<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.opt_n(name)
            .ok_or_else(|| StoreError::Corrupt(format!("missing number attribute {name}")))
    }

    pub fn opt_n<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        match self.0.get(name) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.0.get(name), Some(AttributeValue::Bool(true)))
    }

    pub fn string_set(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(AttributeValue::Ss(v)) => v.clone(),
            _ => Vec::new(),
        }
    }
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
