//! The use cases behind both the JSON routes and the portal's pages: each takes what it needs
//! (the event time, the caller's source, typed input, the checked session) instead of a request,
//! so a page and a route run the same rules on the same repositories.

pub mod account;
pub mod billing;
pub mod identity;
pub mod signup;

use crate::http::{event_time, header, source_ip};
use crate::ApiError;
use chrono::{DateTime, Utc};
use lambda_http::Request;

/// Who asks and when: what rate limits and the Terms acceptance record need of a request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: DateTime<Utc>,
    /// The source IP (empty when the event has none).
    pub source_ip: String,
    pub user_agent: Option<String>,
}

impl Ctx {
    pub fn of(req: &Request) -> Result<Ctx, ApiError> {
        Ok(Ctx {
            now: event_time(req)?,
            source_ip: source_ip(req).unwrap_or_default(),
            user_agent: header(req, "user-agent").map(String::from),
        })
    }
}
