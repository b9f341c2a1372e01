//! Ids of accepted submissions: UUIDs, so anything else cannot name a stored item.

/// A fresh id for a submission.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Ids we hand out are UUIDs; anything else cannot name a stored item.
pub(crate) fn is_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}
