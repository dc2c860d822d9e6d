//! One error type for every route, mapped to a status and a JSON body a user can act on.
//!
//! Bad input maps to its 4xx with the reason (and where in the input, when known); internal
//! errors are logged with the request's span and answered with a generic 500 that leaks nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::event::input::InputError;
use crate::log::LogError;

/// The error of a request, as the client will see it.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppError {
    /// 400: the input cannot be parsed or is invalid; `position` says where when known.
    BadRequest {
        message: String,
        position: Option<String>,
    },
    /// 401: no credentials, or credentials the server does not know.
    Unauthorized(String),
    /// 403: known credentials without the scope the route needs.
    Forbidden(String),
    /// 404: no such resource.
    NotFound(String),
    /// 405: the route exists but not with this method.
    MethodNotAllowed(String),
    /// 409: the request conflicts with what the log already holds (an edited migration).
    Conflict(String),
    /// 406: none of the accepted media types can be produced.
    NotAcceptable(String),
    /// 413: over a body or batch limit.
    TooLarge(String),
    /// 429: over a per-client limit (open subscriptions).
    TooManyRequests(String),
    /// 415: the request's media type is not one this route reads.
    UnsupportedMediaType(String),
    /// 503: the work did not finish in time, or the server is shutting down.
    Unavailable(String),
    /// 422: the batch violates an enforced SHACL shape; answered with the validation report.
    Unprocessable(Box<super::admission::Rejection>),
    /// 500: logged, never shown.
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<&'a str>,
}

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest {
            message: message.into(),
            position: None,
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let this = match self {
            AppError::Unprocessable(rejection) => return (*rejection).into_response(),
            other => other,
        };
        let (message, position) = match &this {
            AppError::BadRequest { message, position } => (message.as_str(), position.as_deref()),
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ("internal error (details are in the server log)", None)
            }
            AppError::Unauthorized(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::MethodNotAllowed(m)
            | AppError::NotAcceptable(m)
            | AppError::Conflict(m)
            | AppError::TooLarge(m)
            | AppError::UnsupportedMediaType(m)
            | AppError::TooManyRequests(m)
            | AppError::Unavailable(m) => (m.as_str(), None),
            AppError::Unprocessable(_) => ("the batch violates the active shapes", None),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: message,
                position,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED
            && let Ok(value) = "Bearer realm=\"ledgraph\"".parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl From<InputError> for AppError {
    fn from(e: InputError) -> Self {
        AppError::BadRequest {
            message: e.message,
            position: Some(e.position.to_string()),
        }
    }
}

impl From<LogError> for AppError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Limit { .. } => AppError::TooLarge(e.to_string()),
            LogError::Range(_) => AppError::bad_request(e.to_string()),
            LogError::Event(_) => AppError::bad_request(e.to_string()),
            LogError::Closed => AppError::Unavailable("the server is shutting down".into()),
            other => AppError::internal(other),
        }
    }
}

/// The request body, with axum's rejections (over the body limit, unreadable) turned into
/// [`AppError`] so they get the same JSON error body as everything else.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::TooLarge(format!(
                    "the request body is over the limit: {}",
                    rejection.body_text()
                )))
            }
            Err(rejection) => Err(AppError::bad_request(rejection.body_text())),
        }
    }
}

/// Parses a query string into `T` (call it after authorizing, so a request without a token is
/// answered 401 whatever its parameters).
pub fn query_params<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, AppError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| AppError::bad_request(format!("query string: {e}")))
}
