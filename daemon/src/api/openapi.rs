//! The API's OpenAPI 3.1 document, generated from the handlers' annotations and the types
//! they read and answer, and served at `/api/v1/openapi.json`.

use super::ErrorBody;
use actix_web::{HttpResponse, get};
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, RefOr, Response};

/// The document: every route of the API with its parameters, bodies, answers and errors.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "vigie",
        description = "Supervision of video-surveillance fleets: status, alerts, history, availability, reports and the live event stream. Every route needs an API token (`Authorization: Bearer ...`) or a browser session, except the health check, the login and the heartbeats (their own tokens). An account bound to a client sees only that client's objects: anything else answers 404. Every error is a JSON object `{\"error\": \"...\"}`; request bodies are JSON objects of at most 64 KiB."
    ),
    paths(
        super::status,
        super::health,
        super::config_route,
        super::metrics,
        super::site,
        super::equipment,
        super::equipment_history,
        super::transitions,
        super::alerts,
        super::alert_history,
        super::alert_by_id,
        super::audit,
        super::ack,
        super::close,
        super::events,
        crate::stream::stream,
        super::notify_test,
        super::outbox,
        super::tickets,
        super::ticket,
        super::close_ticket,
        super::availability,
        super::signals,
        super::report,
        super::windows,
        super::open_window,
        super::end_window,
        super::login,
        super::logout,
        super::session,
        super::heartbeat,
        document,
    ),
    components(schemas(ErrorBody)),
    security(("token" = []), ("session" = [])),
    modifiers(&Schemes, &Errors),
)]
pub struct ApiDoc;

/// How callers authenticate.
struct Schemes;

impl utoipa::Modify for Schemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An account's API token (`vigie token`), or the daemon's local token",
                    ))
                    .build(),
            ),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "A browser session from `POST /api/v1/login`; state-changing requests also carry its CSRF token in `X-CSRF-Token`",
            ))),
        );
        c.add_security_scheme(
            "heartbeat",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The equipment's heartbeat token (its credentials' password)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The errors every route may answer, added where a route does not list them itself.
struct Errors;

/// Which errors a route may answer: `(status, why)`.
/// `own_security`: the route does not take the accounts' tokens and sessions.
fn errors_of(path: &str, post: bool, own_security: bool) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("400", "Invalid parameters or body"),
        (
            "421",
            "The `Host` header names no address or name of this daemon",
        ),
        ("503", "The daemon or its store cannot answer now"),
    ];
    // Each code once: the first description given for it is the one kept.
    let refused_request = "A cross-origin request, or a session request without its CSRF token";
    if !own_security {
        v.push(("401", "No valid token or session"));
        v.push((
            "403",
            if post {
                "The account may not do this; or a cross-origin request, or a session request without its CSRF token"
            } else {
                "The account may not do this"
            },
        ));
        v.push(("404", "Unknown object, or one the account does not see"));
    }
    if post {
        v.push(("403", refused_request));
        v.push(("409", "The object's state forbids it"));
        v.push(("413", "The body is over 64 KiB"));
    }
    if path == "/api/v1/login" {
        v.push(("401", "Wrong account or password"));
        v.push((
            "429",
            "Too many failed logins: retry after `Retry-After` seconds",
        ));
    }
    if path.starts_with("/api/v1/heartbeat/") {
        v.push((
            "401",
            "Wrong or missing heartbeat token, or no equipment pushing heartbeats by this id",
        ));
    }
    v
}

fn error_response(why: &str) -> Response {
    ResponseBuilder::new()
        .description(why)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                "ErrorBody",
            )))),
        )
        .build()
}

fn add_errors(path: &str, op: &mut Operation, post: bool) {
    // Routes with a security of their own (none, or the heartbeat's) list it.
    let own_security = op.security.as_ref().is_some_and(|s| !s.is_empty());
    for (code, why) in errors_of(path, post, own_security) {
        op.responses
            .responses
            .entry(code.to_string())
            .or_insert_with(|| RefOr::T(error_response(why)));
    }
}

impl utoipa::Modify for Errors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let PathItem { get, post, .. } = item;
            if let Some(op) = get {
                add_errors(path, op, false);
            }
            if let Some(op) = post {
                add_errors(path, op, true);
            }
        }
    }
}

/// This document.
#[utoipa::path(
    tag = "daemon",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)),
)]
#[get("/api/v1/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
