//! Repositories: what use cases read and write, in domain types. Functions never see an item.

pub mod accounts;
pub mod events;
pub mod forms;
pub mod identity;
pub mod outbox;
pub mod payments;
pub mod rates;
pub mod sweep;
