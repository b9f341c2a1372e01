//! Public forms (SPEC: Forms): the field rules of the implementation request, the copyright
//! notice (§15.1, §15.3) and the personal-data request (§5.5, §26.5); partner routing; the
//! data-request deadline and its reminders; the text of every mail these forms send.
//! Every item is re-exported here, so callers name it `domain::forms::X` whatever file holds it.

mod copyright;
mod data_request;
mod implementation_request;
mod input;
mod mail;
mod partners;

pub use copyright::*;
pub use data_request::*;
pub use implementation_request::*;
pub use input::*;
pub use mail::*;
pub use partners::*;
