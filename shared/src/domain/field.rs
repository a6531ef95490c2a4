//! The one shape of an invalid input field, shared by every `validate` of the domain and
//! by the 400 problem document that lists them.

use serde::Serialize;

/// One invalid field of a 400, named as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
