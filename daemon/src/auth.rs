//! Who is asking and what they may see: accounts of the config, API tokens, browser sessions,
//! the command line's local token, login rate limits, and the checks every request passes
//! before its handler (host name, origin, CSRF), with the per-client scope of every answer.

use crate::api::{ApiError, ApiState};
use crate::config::{
    Access, Account, ClientId, Config, EquipmentId, LOCAL_ACCOUNT, Language, OpsRole, SiteId,
    token_digest,
};
use crate::events::{Event, EventBody};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, web};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// File of the data directory holding the local token (mode 0600), which the command line on
/// the daemon's machine reads when no token is given to it.
pub const LOCAL_TOKEN_FILE: &str = "local-token";
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "vigie_session";
/// Header carrying a session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused for this long ends.
pub const SESSION_IDLE: chrono::Duration = chrono::Duration::hours(12);
/// A session ends this long after its login, used or not.
pub const SESSION_MAX: chrono::Duration = chrono::Duration::days(7);
/// Most sessions kept at once; past it the least recently used ends.
const MAX_SESSIONS: usize = 10_000;
/// Failed logins counted over this window.
pub const LOGIN_WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// Failed logins of one account within the window before its logins are refused.
pub const LOGIN_FAILURES_PER_ACCOUNT: u32 = 5;
/// Failed logins from one address within the window before its logins are refused.
pub const LOGIN_FAILURES_PER_ADDRESS: u32 = 20;
/// Most failure counters kept (accounts and addresses); past it the oldest are forgotten.
const MAX_COUNTERS: usize = 50_000;

/// How a request was authenticated.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// An API token of the account.
    Token,
    /// A browser session (cookie).
    Session,
    /// The daemon's local token (the command line on its machine).
    Local,
}

/// The authenticated account of a request.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// Account id: who did what in the log.
    pub account: String,
    /// Display name.
    pub name: String,
    /// What it reaches.
    pub access: Access,
    /// Language of its pages.
    pub language: Language,
    /// How it was authenticated.
    pub via: Via,
    /// The session's CSRF token (sessions only), to send in `X-CSRF-Token`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub csrf: Option<String>,
    /// Digest of the session's cookie.
    #[serde(skip)]
    session: Option<[u8; 32]>,
    /// Digest of the API token used.
    #[serde(skip)]
    token: Option<[u8; 32]>,
}

impl Identity {
    fn of(account: &Account, via: Via) -> Identity {
        Identity {
            account: account.id.clone(),
            name: account.name.clone(),
            access: account.access.clone(),
            language: account.language,
            via,
            csrf: None,
            session: None,
            token: None,
        }
    }

    fn local() -> Identity {
        Identity {
            account: LOCAL_ACCOUNT.into(),
            name: "local command line".into(),
            access: Access::Ops(OpsRole::Admin),
            language: Language::En,
            via: Via::Local,
            csrf: None,
            session: None,
            token: None,
        }
    }

    /// The client it is bound to, for a client's account.
    pub fn client(&self) -> Option<&ClientId> {
        match &self.access {
            Access::Client(c) => Some(c),
            Access::Ops(_) => None,
        }
    }

    /// Refuses unless the account is staff with at least `role`; `what` says the action.
    pub fn require(&self, role: OpsRole, what: &str) -> Result<(), ApiError> {
        match &self.access {
            Access::Ops(r) if *r >= role => Ok(()),
            Access::Ops(r) => Err(ApiError::Forbidden(format!(
                "account `{}` ({}) may not {what}: it takes the {} role",
                self.account,
                r.name(),
                role.name()
            ))),
            Access::Client(_) => Err(ApiError::Forbidden(format!(
                "account `{}` may not {what}",
                self.account
            ))),
        }
    }

    /// Refuses a client's account as if the route did not exist (staff-only resources).
    pub fn staff_only(&self) -> Result<(), ApiError> {
        match self.access {
            Access::Ops(_) => Ok(()),
            Access::Client(_) => Err(ApiError::NotFound(
                "no such endpoint; see /api/v1/status".into(),
            )),
        }
    }
}

impl FromRequest for Identity {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Identity, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Identity>()
                .cloned()
                .ok_or_else(unauthenticated),
        )
    }
}

fn unauthenticated() -> ApiError {
    ApiError::Unauthorized(
        "sign in, or give a token in `Authorization: Bearer …` (see `vigie token`)".into(),
    )
}

/// What part of the fleet an account sees: everything for staff, a client's sites for a
/// client's account.
#[derive(Debug, Clone)]
pub struct Scope {
    client: Option<ClientId>,
    sites: HashSet<SiteId>,
    cfg: Option<Arc<Config>>,
}

impl Scope {
    /// The scope of `who` under the config in force.
    pub fn of(who: &Identity, cfg: Option<Arc<Config>>) -> Scope {
        let client = who.client().cloned();
        let sites = match (&client, &cfg) {
            (Some(c), Some(cfg)) => cfg
                .sites
                .values()
                .filter(|s| &s.client == c)
                .map(|s| s.id.clone())
                .collect(),
            _ => HashSet::new(),
        };
        Scope { client, sites, cfg }
    }

    /// True for staff: nothing is hidden.
    pub fn everything(&self) -> bool {
        self.client.is_none()
    }

    /// The client it is restricted to.
    pub fn client(&self) -> Option<&ClientId> {
        self.client.as_ref()
    }

    /// Whether a site is visible.
    pub fn site(&self, id: &SiteId) -> bool {
        self.everything() || self.sites.contains(id)
    }

    /// Whether a client is visible.
    pub fn client_visible(&self, id: &str) -> bool {
        self.client.as_ref().is_none_or(|c| c.as_str() == id)
    }

    /// Whether an equipment is visible (for a client: on one of its sites in the config).
    pub fn equipment(&self, id: &EquipmentId) -> bool {
        if self.everything() {
            return true;
        }
        let Some(cfg) = &self.cfg else { return false };
        self.sites.iter().any(|s| {
            cfg.sites
                .get(s)
                .is_some_and(|s| s.equipment.contains_key(id.as_str()))
        })
    }

    /// Whether an event of the log is visible: what happened on the client's sites; config
    /// loads and the daemon's starts and stops are the staff's.
    pub fn event(&self, e: &Event) -> bool {
        if self.everything() {
            return true;
        }
        match &e.body {
            EventBody::Alert(a) => self.site(&a.alert.site),
            EventBody::Transition(t) => self.site(&t.site),
            EventBody::Ticket(t) => self.site(&t.ticket.site),
            EventBody::Maintenance(m) => self.site(&m.site),
            EventBody::Facts(f) => self.site(&f.site),
            EventBody::Config(_) | EventBody::Supervision(_) => false,
        }
    }
}

/// A browser session.
#[derive(Debug, Clone)]
struct Session {
    account: String,
    /// Digest of the account's password hash at login: a changed password ends the session.
    password: [u8; 32],
    csrf: String,
    created: DateTime<Utc>,
    last: DateTime<Utc>,
}

/// Failed logins of one account or address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Counter {
    Account(String),
    Address(IpAddr),
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown account, account without a password, or wrong password: one answer for all.
    #[error("wrong account or password")]
    Wrong,
    /// Too many failures lately.
    #[error("too many failed logins; try again in {0} s")]
    Limited(u64),
    /// No randomness for the session.
    #[error("no session could be made: {0}")]
    Random(String),
}

/// A login that succeeded.
#[derive(Debug)]
pub struct Login {
    /// The account, with its session's CSRF token.
    pub identity: Identity,
    /// The session cookie's value.
    pub cookie: String,
}

/// The daemon's access control: the local token, sessions and login counters.
pub struct Gate {
    local: [u8; 32],
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<Counter, Failures>>,
    /// Cookies carry `Secure` (the API is served over TLS).
    pub secure_cookies: bool,
}

/// `len` random bytes from the system, URL-safe base64 without padding.
pub fn random_text(len: usize) -> Result<String, String> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| e.to_string())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// A new API token: `vigie_` and 32 random bytes.
pub fn new_token() -> Result<String, String> {
    Ok(format!("vigie_{}", random_text(32)?))
}

/// The argon2id hash (PHC string) of a password, with a random salt and the crate's default
/// parameters (OWASP's minimum: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = argon2::password_hash::SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash no password matches, verified for unknown accounts so that they take as long as
/// known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$dmlnaWUtZHVtbXktc2FsdA$8cZzRl3Fh7d3g1m9X8b0S8rS0aRkQxYtq1mVY4Jc4Kg";

/// Compares two byte strings in time independent of where they differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Session {
    /// Within its idle and absolute limits at `now`.
    fn alive(&self, now: DateTime<Utc>) -> bool {
        now - self.last < SESSION_IDLE && now - self.created < SESSION_MAX
    }

    /// The account it was opened for, as the config in force has it, password unchanged.
    fn account<'a>(&self, cfg: Option<&'a Config>) -> Option<&'a Account> {
        cfg?.accounts.get(&self.account).filter(|a| {
            a.password
                .as_deref()
                .is_some_and(|p| same_secret(&token_digest(p), &self.password))
        })
    }
}

impl Gate {
    /// A gate with a new local token, written to `DATA/local-token` (0600).
    pub fn new(data_dir: &Path) -> std::io::Result<Gate> {
        let token = new_token().map_err(std::io::Error::other)?;
        crate::store::write_private(&data_dir.join(LOCAL_TOKEN_FILE), token.as_bytes())?;
        Ok(Gate {
            local: token_digest(&token),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            secure_cookies: false,
        })
    }

    /// The account a bearer token or a session cookie stands for, under the config in force.
    pub fn identify(
        &self,
        cfg: Option<&Config>,
        bearer: Option<&str>,
        cookie: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<Identity> {
        if let Some(token) = bearer {
            let digest = token_digest(token);
            if same_secret(&digest, &self.local) {
                return Some(Identity::local());
            }
            let cfg = cfg?;
            // Every digest is compared, so the time taken does not say which account matched.
            let mut found = None;
            for a in cfg.accounts.values() {
                for t in &a.tokens {
                    if same_secret(t, &digest) {
                        found = Some(a);
                    }
                }
            }
            return found.map(|a| {
                let mut who = Identity::of(a, Via::Token);
                who.token = Some(digest);
                who
            });
        }
        let value = cookie?;
        let digest = token_digest(value);
        let mut sessions = self.sessions.lock().ok()?;
        let s = sessions.get_mut(&digest)?;
        let Some(account) = s.account(cfg).filter(|_| s.alive(now)) else {
            sessions.remove(&digest);
            return None;
        };
        s.last = now;
        let mut who = Identity::of(account, Via::Session);
        who.csrf = Some(s.csrf.clone());
        who.session = Some(digest);
        Some(who)
    }

    /// Signs in with a password: counts failures per account and per address, refuses for
    /// the rest of the window past the limits, and opens a session on success. Slow by design
    /// (argon2): call it off the async threads.
    pub fn login(
        &self,
        cfg: Option<&Config>,
        account: &str,
        password: &str,
        from: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Login, LoginError> {
        let keys: Vec<(Counter, u32)> = std::iter::once((
            Counter::Account(account.to_string()),
            LOGIN_FAILURES_PER_ACCOUNT,
        ))
        .chain(from.map(|ip| (Counter::Address(ip), LOGIN_FAILURES_PER_ADDRESS)))
        .collect();
        {
            let mut failures = self.failures.lock().map_err(|_| LoginError::Wrong)?;
            failures.retain(|_, f| now - f.first < LOGIN_WINDOW);
            for (key, limit) in &keys {
                if let Some(f) = failures.get(key)
                    && f.count >= *limit
                {
                    let left = (f.first + LOGIN_WINDOW - now).num_seconds().max(1);
                    return Err(LoginError::Limited(left.unsigned_abs()));
                }
            }
        }
        let found = cfg.and_then(|c| c.accounts.get(account));
        let hash = found.and_then(|a| a.password.as_deref());
        let ok = verify_password(hash.unwrap_or(DUMMY_HASH), password) && hash.is_some();
        let (Some(a), Some(hash), true) = (found, hash, ok) else {
            if let Ok(mut failures) = self.failures.lock() {
                if failures.len() >= MAX_COUNTERS
                    && let Some(oldest) = failures
                        .iter()
                        .min_by_key(|(_, f)| f.first)
                        .map(|(k, _)| k.clone())
                {
                    failures.remove(&oldest);
                }
                for (key, _) in keys {
                    failures
                        .entry(key)
                        .or_insert(Failures {
                            count: 0,
                            first: now,
                        })
                        .count += 1;
                }
            }
            tracing::warn!(account, from = ?from, "login refused");
            return Err(LoginError::Wrong);
        };
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&Counter::Account(account.to_string()));
        }
        let cookie = random_text(32).map_err(LoginError::Random)?;
        let csrf = random_text(32).map_err(LoginError::Random)?;
        let digest = token_digest(&cookie);
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.retain(|_, s| s.alive(now));
            if sessions.len() >= MAX_SESSIONS
                && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k)
            {
                sessions.remove(&oldest);
            }
            sessions.insert(
                digest,
                Session {
                    account: a.id.clone(),
                    password: token_digest(hash),
                    csrf: csrf.clone(),
                    created: now,
                    last: now,
                },
            );
        }
        tracing::info!(account, "signed in");
        let mut identity = Identity::of(a, Via::Session);
        identity.csrf = Some(csrf);
        identity.session = Some(digest);
        Ok(Login { identity, cookie })
    }

    /// Whether what authenticated `who` still does under the config in force (a long-lived
    /// stream asks again and again): the account and its token still listed, its session
    /// still open.
    pub fn still_valid(&self, who: &Identity, cfg: Option<&Config>, now: DateTime<Utc>) -> bool {
        match who.via {
            Via::Local => true,
            Via::Token => {
                let account = cfg.and_then(|c| c.accounts.get(&who.account));
                account.is_some_and(|a| {
                    who.token
                        .is_some_and(|t| a.tokens.iter().any(|x| same_secret(x, &t)))
                        && a.access == who.access
                })
            }
            Via::Session => {
                let Some(digest) = who.session else {
                    return false;
                };
                let Ok(sessions) = self.sessions.lock() else {
                    return false;
                };
                // An open stream is the session in use: only its absolute limit applies.
                sessions.get(&digest).is_some_and(|s| {
                    now - s.created < SESSION_MAX
                        && s.account(cfg).is_some_and(|a| a.access == who.access)
                })
            }
        }
    }

    /// Ends the session of `who`, if it came with one.
    pub fn logout(&self, who: &Identity) {
        if let (Some(d), Ok(mut sessions)) = (who.session, self.sessions.lock()) {
            sessions.remove(&d);
        }
    }

    /// The `Set-Cookie` value opening a session.
    pub fn session_cookie(&self, value: &str) -> String {
        format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{}; Max-Age={}",
            if self.secure_cookies { "; Secure" } else { "" },
            SESSION_MAX.num_seconds()
        )
    }

    /// The `Set-Cookie` value ending a session.
    pub fn cleared_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict{}; Max-Age=0",
            if self.secure_cookies { "; Secure" } else { "" }
        )
    }
}

/// The host part of a `Host` header or of an origin's authority, lower case, without port or
/// IPv6 brackets.
fn host_part(authority: &str) -> String {
    let a = authority.trim();
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        a.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(a, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether a request naming `host` is for this daemon: an IP address (a page cannot name one
/// to reach another site's address: DNS rebinding needs a name), `localhost`, or one of
/// `[daemon] server_names`.
pub fn host_allowed(host: &str, cfg: Option<&Config>) -> bool {
    let h = host_part(host);
    !h.is_empty()
        && (h.parse::<IpAddr>().is_ok()
            || h == "localhost"
            || cfg.is_some_and(|c| c.daemon.server_names.contains(&h)))
}

/// Routes that need no account: the health check, heartbeats (their own tokens) and login.
fn public(path: &str) -> bool {
    path == "/api/v1/health"
        || path == "/api/v1/login"
        || path.starts_with("/api/v1/heartbeat/")
        || crate::dashboard::public(path)
}

/// Whether a path is the API's (errors in JSON) rather than a page (a browser is sent to the
/// login form).
fn api_path(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

fn header(req: &ServiceRequest, name: impl header::AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn cookie_value<'a>(req: &'a ServiceRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Checks every request before its handler: the `Host` is the daemon's, a state-changing
/// request comes from the daemon's own pages or from a script (no foreign `Origin`), the
/// caller is authenticated (except on public routes), and a session's state-changing request
/// carries its CSRF token. The account is left in the request for the handlers.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<ApiState>>().cloned() else {
        return Err(ApiError::Unavailable("the API is not set up".into()).into());
    };
    let cfg = state.config.borrow().clone();
    let host = header(&req, header::HOST).unwrap_or_default();
    if !host_allowed(host, cfg.as_deref()) {
        return Err(ApiError::Misdirected(format!(
            "this daemon does not answer for host `{host}`; add it to [daemon] server_names"
        ))
        .into());
    }
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes {
        if let Some(site) = header(&req, "sec-fetch-site")
            && !matches!(site, "same-origin" | "none")
        {
            return Err(ApiError::Forbidden(format!(
                "cross-origin request refused (Sec-Fetch-Site: {site})"
            ))
            .into());
        }
        if let Some(origin) = header(&req, header::ORIGIN) {
            let authority = origin
                .split_once("://")
                .map(|(_, rest)| rest.trim_end_matches('/'))
                .unwrap_or_default();
            if !authority.eq_ignore_ascii_case(host.trim()) {
                return Err(ApiError::Forbidden(format!(
                    "cross-origin request refused (Origin: {origin})"
                ))
                .into());
            }
        }
    }
    if !public(req.path()) {
        let bearer = header(&req, header::AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer "));
        let who = state.gate.identify(
            cfg.as_deref(),
            bearer.map(str::trim),
            cookie_value(&req, SESSION_COOKIE),
            state.clock.now(),
        );
        let who = match who {
            Some(w) => w,
            // A page asked by nobody signed in: the login form.
            None if !api_path(req.path()) && *req.method() == Method::GET => {
                let to_login = actix_web::HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish();
                return Ok(req.into_response(to_login).map_into_right_body());
            }
            None => return Err(unauthenticated().into()),
        };
        if changes
            && who.via == Via::Session
            && !who.csrf.as_deref().is_some_and(|c| {
                header(&req, CSRF_HEADER).is_some_and(|h| same_secret(h.as_bytes(), c.as_bytes()))
            })
        {
            return Err(ApiError::Forbidden(
                "missing or wrong X-CSRF-Token for this session (see GET /api/v1/session)".into(),
            )
            .into());
        }
        req.extensions_mut().insert(who);
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_addresses_localhost_or_configured_names() {
        let mut cfg = Config::default();
        cfg.daemon.server_names = vec!["vigie.example.com".into()];
        for ok in [
            "127.0.0.1:8480",
            "[::1]:8480",
            "localhost:8480",
            "LOCALHOST",
            "10.0.0.5",
            "vigie.example.com:443",
            "Vigie.Example.Com.",
        ] {
            assert!(host_allowed(ok, Some(&cfg)), "{ok}");
        }
        for refused in [
            "evil.example:8480",
            "",
            "vigie.example.com.evil",
            "127.0.0.1.nip.io",
        ] {
            assert!(!host_allowed(refused, Some(&cfg)), "{refused}");
        }
        assert!(!host_allowed("vigie.example.com", None));
    }

    #[test]
    fn a_session_expires_after_twelve_idle_hours_or_seven_days_in_use() {
        let t0: DateTime<Utc> = "2026-03-01T08:00:00Z".parse().expect("t");
        let mut s = Session {
            account: "marie".into(),
            password: [0; 32],
            csrf: String::new(),
            created: t0,
            last: t0,
        };
        let h = chrono::Duration::hours;
        assert!(s.alive(t0 + h(11)));
        assert!(!s.alive(t0 + h(12)), "twelve idle hours");
        // In use (last request just now): alive until its seventh day, not after.
        s.last = t0 + h(165);
        assert!(s.alive(t0 + h(165)));
        s.last = t0 + h(167);
        assert!(!s.alive(t0 + h(168)), "seven days");
    }

    #[test]
    fn a_password_hash_verifies_its_password_only() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horse "));
        assert!(!verify_password(DUMMY_HASH, ""));
    }
}
