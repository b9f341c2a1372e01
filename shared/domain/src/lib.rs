//! The rules of the Terms of Service as pure code: no AWS, no I/O, no clock.
//! Every function takes "now" as an argument, so any moment of an account's life can be replayed.

pub mod account;
pub mod billing;
pub mod catalog;
pub mod countries;
pub mod events;
pub mod field;
pub mod forms;
pub mod identity;
pub mod lifecycle;
pub mod limits;
pub mod money;
pub mod notice;
pub mod policy;
pub mod signup;
pub mod time;
pub mod types;

pub use account::{Account, State, StateReason, Usage};
pub use catalog::{Catalog, Plan};
pub use field::{FieldError, FieldErrors};
pub use money::Money;
pub use policy::Policy;
