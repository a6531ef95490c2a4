//! Key shapes of every item kind. See ARCHITECTURE.md, "Item kinds".

pub(super) fn health() -> (String, String) {
    ("HEALTH".into(), "HEALTH".into())
}
