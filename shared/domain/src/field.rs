//! Errors that name the input field a caller got wrong (answered as 4xx with `errors: [{field, message}]`).

use serde::Serialize;

pub const REQUIRED: &str = "Field is required";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
    pub fn required(field: impl Into<String>) -> Self {
        Self::new(field, REQUIRED)
    }
}

/// Every problem of one input at once, so a form can show them all next to their fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>().join(", "))]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Collects a parse result: the value on success, the error recorded otherwise.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
    pub fn message_for(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

/// A statement the sender must confirm (a checked box): missing is "required", `false` is `msg`.
pub fn must_be_true(field: &str, v: Option<bool>, msg: &str) -> Result<(), FieldError> {
    match v {
        None => Err(FieldError::required(field)),
        Some(true) => Ok(()),
        Some(false) => Err(FieldError::new(field, msg)),
    }
}

impl From<FieldError> for FieldErrors {
    fn from(e: FieldError) -> Self {
        FieldErrors(vec![e])
    }
}
