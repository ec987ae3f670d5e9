//! A plain form's refusal, readable by the page it returns to: server functions answer a form
//! posted without JavaScript's help with a redirect back whose URL carries the error encoded
//! (`__err`, base64 of JSON). This adds the error's words as `__msg`, so the page shows them
//! without a decoder of its own in the wasm bundle.
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::server_fn::error::ServerFnUrlError;

use app::error::AppError;

/// Adds `__msg` beside `__err` in a redirect's `Location`.
pub async fn add_message(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if !response.status().is_redirection() {
        return response;
    }
    let Some(location) = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
        return response;
    };
    if let Some(with_message) = with_message(location) {
        if let Ok(value) = HeaderValue::from_str(&with_message) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    response
}

/// `location` with `__msg` (the decoded error's words) when it carries `__err`.
fn with_message(location: &str) -> Option<String> {
    let (_, query) = location.split_once('?')?;
    let encoded = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "__err")?.1;
    let message = ServerFnUrlError::<AppError>::decode_err(&encoded).to_string();
    let pair: String =
        url::form_urlencoded::Serializer::new(String::new()).append_pair("__msg", &message).finish();
    Some(format!("{location}&{pair}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_is_written_out_beside_its_encoding() {
        let url =
            ServerFnUrlError::new("/api/heal_now", AppError::Conflict("a run for web1 is in flight".into()))
                .to_url("http://localhost/alerts/7")
                .unwrap()
                .to_string();
        let out = with_message(&url).expect("has __err");
        let msg =
            url::Url::parse(&out).unwrap().query_pairs().find(|(k, _)| k == "__msg").unwrap().1.into_owned();
        assert_eq!(msg, "a run for web1 is in flight");
        assert_eq!(with_message("http://localhost/alerts/7?x=1"), None);
        assert_eq!(with_message("/login"), None);
    }
}
