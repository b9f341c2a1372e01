//! Routes of submit-form. Every error is answered (problem+json, or the page for the form's own
//! posts); nothing a client sends can make it panic or answer 500.

use crate::{implementation, notices};
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};
use platform::http::{answer, method_not_allowed, segments, ApiResult};
use platform::{ApiError, App};

pub(crate) async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(answer(app, "submit-form", &req, route(app, &req)).await)
}

async fn route(app: &App, req: &Request) -> ApiResult {
    let segs = segments(req);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method();
    match segs.as_slice() {
        ["forms", "implementation-request"] => match *m {
            Method::GET | Method::HEAD => implementation::page(app, req).await,
            Method::POST => implementation::submit(app, req).await,
            _ => Err(method_not_allowed()),
        },
        ["forms", "implementation-request", "settings"] => match *m {
            Method::PUT => implementation::settings(app, req).await,
            _ => Err(method_not_allowed()),
        },
        ["forms", "implementation-request", id, "resend"] => match *m {
            Method::POST => implementation::resend(app, req, id).await,
            _ => Err(method_not_allowed()),
        },
        ["forms", "copyright-notice"] => match *m {
            Method::POST => notices::copyright_notice(app, req).await,
            _ => Err(method_not_allowed()),
        },
        ["forms", "copyright-notice", id, "outcome"] => match *m {
            Method::POST => notices::copyright_outcome(app, req, id).await,
            _ => Err(method_not_allowed()),
        },
        ["forms", "data-request"] => match *m {
            Method::POST => notices::data_request(app, req).await,
            _ => Err(method_not_allowed()),
        },
        ["forms", "data-request", id, "answer"] => match *m {
            Method::POST => notices::answer_data_request(app, req, id).await,
            _ => Err(method_not_allowed()),
        },
        ["partners"] => match *m {
            Method::POST => notices::add_partner(app, req).await,
            _ => Err(method_not_allowed()),
        },
        _ => Err(ApiError::no_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::testkit::{app, event};

    #[tokio::test]
    async fn the_form_page_event_answers_the_html_form() {
        let app = app().await;
        let res = handle(&app, event(include_str!("../tests/events/form-page.json"), &[])).await.expect("handled");
        assert_eq!(res.status().as_u16(), 200);
        let Body::Text(page) = res.body() else { panic!("a text body") };
        for label in ["First Name", "Your Email", "Implementation Request", "I accept", "I don&#39;t accept"] {
            assert!(page.contains(label), "{label}");
        }
    }
}
