//! Stripe's REST API, as far as this product uses it: a small typed client over hyper and rustls
//! (the HTTP stack the AWS SDK already links), with a pinned API version. Stripe's JSON is read
//! leniently: only the fields used, every one optional but the ids, so older shapes (localstripe
//! speaks 2017-08-15) and new fields both parse.

use anyhow::{anyhow, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_http::http::{header, Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The API version every request pins (Stripe answers in that version's shapes).
pub const API_VERSION: &str = "2024-06-20";
const TIMEOUT: Duration = Duration::from_secs(20);

type Http = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SetupIntent {
    pub id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub payment_method: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Card {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
    #[serde(default)]
    pub exp_month: Option<u32>,
    #[serde(default)]
    pub exp_year: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub card: Option<Card>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaymentError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub amount: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub last_payment_error: Option<PaymentError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub amount: Option<u64>,
    #[serde(default)]
    pub created: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    payment_intent: Option<PaymentIntent>,
}

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// 402: the card was declined (a decline code where Stripe gives one).
    #[error("card declined: {code:?} {decline_code:?}")]
    Declined { code: Option<String>, decline_code: Option<String>, payment_intent: Option<Box<PaymentIntent>> },
    /// Another 4xx: Stripe refused the request itself.
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// Not reachable, a 5xx, or an answer that does not parse.
    #[error(transparent)]
    Unavailable(#[from] anyhow::Error),
}

/// A new PaymentIntent confirmed at once on a saved card.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub amount: u64,
    pub currency: &'a str,
    pub customer: &'a str,
    pub payment_method: &'a str,
    /// A renewal charge, made without the customer present.
    pub off_session: bool,
    pub metadata: &'a [(&'a str, &'a str)],
}

#[derive(Clone)]
pub struct Stripe {
    base: String,
    secrets: Arc<crate::secrets::Secrets>,
    http: Arc<OnceLock<Http>>,
    requests: Arc<AtomicU64>,
}

impl Stripe {
    /// `base` is `https://api.stripe.com` on AWS, localstripe's address locally; the secret key
    /// is read from `secrets` when a request is made.
    pub fn new(base: &str, secrets: Arc<crate::secrets::Secrets>) -> Stripe {
        Stripe {
            base: base.trim_end_matches('/').to_string(),
            secrets,
            http: Arc::new(OnceLock::new()),
            requests: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Requests made to Stripe so far (logged per request, read by the bench).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Built on first use, so a function that never pays starts without loading certificates.
    fn http(&self) -> Result<&Http, StripeError> {
        if let Some(h) = self.http.get() {
            return Ok(h);
        }
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("the system's root certificates")?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(self.http.get_or_init(|| Client::builder(TokioExecutor::new()).build(tls)))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let encoded = serde_urlencoded::to_string(form).context("form")?;
        let (uri, body) = if method == Method::GET {
            let q = if encoded.is_empty() { String::new() } else { format!("?{encoded}") };
            (format!("{}{path}{q}", self.base), String::new())
        } else {
            (format!("{}{path}", self.base), encoded)
        };
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.secrets.get(crate::secrets::Secret::StripeKey)?))
            .header("Stripe-Version", API_VERSION)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let req = req.body(Full::new(Bytes::from(body))).context("request")?;
        let resp = tokio::time::timeout(TIMEOUT, self.http()?.request(req))
            .await
            .map_err(|_| anyhow!("Stripe {path}: no answer within {TIMEOUT:?}"))?
            .with_context(|| format!("Stripe {path}"))?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.with_context(|| format!("Stripe {path}: body"))?.to_bytes();
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .with_context(|| format!("Stripe {path}: answer"))
                .map_err(Into::into);
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_default().error;
        let message = detail.message.clone().unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(match status {
            StatusCode::PAYMENT_REQUIRED => StripeError::Declined {
                code: detail.code,
                decline_code: detail.decline_code,
                payment_intent: detail.payment_intent.map(Box::new),
            },
            s if s.is_client_error() => StripeError::Refused { status: s.as_u16(), message },
            s => StripeError::Unavailable(anyhow!("Stripe {path}: {s}: {message}")),
        })
    }

    pub async fn create_customer(&self, account_id: &str, idempotency_key: &str) -> Result<Customer, StripeError> {
        let form = vec![("metadata[account_id]".to_string(), account_id.to_string())];
        self.call(Method::POST, "/v1/customers", &form, Some(idempotency_key)).await
    }

    /// A SetupIntent to save a card for off-session use.
    pub async fn create_setup_intent(&self, customer: &str) -> Result<SetupIntent, StripeError> {
        let form = vec![
            ("customer".to_string(), customer.to_string()),
            ("usage".to_string(), "off_session".to_string()),
            ("payment_method_types[]".to_string(), "card".to_string()),
        ];
        self.call(Method::POST, "/v1/setup_intents", &form, None).await
    }

    pub async fn setup_intent(&self, id: &str) -> Result<SetupIntent, StripeError> {
        self.call(Method::GET, &format!("/v1/setup_intents/{}", path_id(id)?), &[], None).await
    }

    pub async fn payment_method(&self, id: &str) -> Result<PaymentMethod, StripeError> {
        self.call(Method::GET, &format!("/v1/payment_methods/{}", path_id(id)?), &[], None).await
    }

    /// Attaches the card to the customer (if not yet) and makes it the default for invoices and
    /// renewals: real Stripe attaches on a SetupIntent's success, localstripe does not.
    pub async fn make_default(&self, customer: &str, pm: &PaymentMethod) -> Result<(), StripeError> {
        if pm.customer.as_deref() != Some(customer) {
            let form = vec![("customer".to_string(), customer.to_string())];
            let _: PaymentMethod = self
                .call(Method::POST, &format!("/v1/payment_methods/{}/attach", path_id(&pm.id)?), &form, None)
                .await?;
        }
        let form = vec![("invoice_settings[default_payment_method]".to_string(), pm.id.clone())];
        let _: Customer =
            self.call(Method::POST, &format!("/v1/customers/{}", path_id(customer)?), &form, None).await?;
        Ok(())
    }

    /// A PaymentIntent confirmed at once. A decline is `StripeError::Declined`.
    pub async fn pay(&self, p: &NewPayment<'_>, idempotency_key: &str) -> Result<PaymentIntent, StripeError> {
        let mut form = vec![
            ("amount".to_string(), p.amount.to_string()),
            ("currency".to_string(), p.currency.to_ascii_lowercase()),
            ("customer".to_string(), p.customer.to_string()),
            ("payment_method".to_string(), p.payment_method.to_string()),
            ("confirm".to_string(), "true".to_string()),
        ];
        if p.off_session {
            form.push(("off_session".to_string(), "true".to_string()));
        }
        for (k, v) in p.metadata {
            form.push((format!("metadata[{k}]"), v.to_string()));
        }
        self.call(Method::POST, "/v1/payment_intents", &form, Some(idempotency_key)).await
    }

    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        self.call(Method::GET, &format!("/v1/payment_intents/{}", path_id(id)?), &[], None).await
    }

    /// The customer's charges, newest first (each names its PaymentIntent).
    pub async fn charges(&self, customer: &str) -> Result<Vec<Charge>, StripeError> {
        let form = vec![("customer".to_string(), customer.to_string()), ("limit".to_string(), "100".to_string())];
        let list: List<Charge> = self.call(Method::GET, "/v1/charges", &form, None).await?;
        if list.has_more {
            tracing::warn!(customer, "more than 100 charges; only the newest were looked at");
        }
        Ok(list.data)
    }
}

/// An id as a path segment: Stripe ids are letters, digits and underscores.
fn path_id(id: &str) -> Result<&str, StripeError> {
    if !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(StripeError::Refused { status: 400, message: format!("not a Stripe id: {id:?}") })
    }
}

/// A Stripe event as the webhook receives it; `data.object` is read by the caller per type.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub created: Option<i64>,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}
