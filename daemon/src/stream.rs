//! The live event stream, `GET /api/v1/stream` (Server-Sent Events): the event log as it is
//! committed (status changes, alert changes with their escalations, tickets, maintenance
//! windows), filtered per account, resumable with `Last-Event-ID`; for the staff, also each
//! notification as its channel accepts it or it is given up.

use crate::api::{ApiError, ApiState};
use crate::auth::{Identity, Scope};
use crate::events::Event;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::watch;

/// A comment line is sent after this long without an event, so proxies and clients know the
/// stream is alive.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events read from the log at once.
const PAGE: usize = 500;
/// What a browser waits before it reconnects, in milliseconds.
const RETRY_MS: u64 = 2000;

/// `?after=SEQ`: events after this sequence number (the `Last-Event-ID` header wins).
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Start after this event; without it (nor `Last-Event-ID`), only new events are sent.
    pub after: Option<u64>,
}

/// One event as an SSE frame: its sequence number as the id, its type as the event name, the
/// event (as `/api/v1/events` gives it) as the data.
pub fn frame(e: &Event) -> Bytes {
    let data = serde_json::to_value(e).unwrap_or_default();
    let kind = data
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("event")
        .to_string();
    Bytes::from(format!("id: {}\nevent: {kind}\ndata: {data}\n\n", e.seq))
}

struct Cursor {
    state: web::Data<ApiState>,
    who: Identity,
    after: u64,
    committed: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
    pending: VecDeque<Bytes>,
    /// The staff's: the outbox's changes, and the last delivery already told.
    outbox: Option<(crate::outbox::Outbox, watch::Receiver<u64>, u64)>,
}

/// Most deliveries read back at each outbox change.
const SENT_READ: usize = 100;

/// The deliveries settled after `after` (sent or given up), oldest first, and the last one's
/// number.
async fn settled_after(
    outbox: &crate::outbox::Outbox,
    after: u64,
) -> Option<(Vec<crate::outbox::SentRecord>, u64)> {
    let o = outbox.clone();
    let view = web::block(move || o.view(SENT_READ)).await.ok()?.ok()?;
    let last = view
        .sent
        .iter()
        .map(|r| r.delivery.id)
        .max()
        .unwrap_or(after)
        .max(after);
    let new = view
        .sent
        .into_iter()
        .filter(|r| r.delivery.id > after)
        .collect();
    Some((new, last))
}

impl Cursor {
    /// The next bytes of the stream; `None` ends it (the account gone, the daemon stopping,
    /// the store unreadable: a client reconnects with its last id).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Some(b);
            }
            if *self.stopping.borrow() {
                return None;
            }
            let cfg = self.state.config.borrow().clone();
            if !self
                .state
                .gate
                .still_valid(&self.who, cfg.as_deref(), self.state.clock.now())
            {
                return None;
            }
            let last = *self.committed.borrow_and_update();
            if last > self.after {
                let (after, reader) = (self.after, self.state.reader.clone());
                let events = match web::block(move || reader.events_after(after, PAGE)).await {
                    Ok(Ok(e)) => e,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "event stream: the log cannot be read");
                        return None;
                    }
                    Err(_) => return None,
                };
                if events.is_empty() {
                    // Compacted away: nothing more to read up to `last`.
                    self.after = last;
                    continue;
                }
                let scope = Scope::of(&self.who, cfg);
                for e in events {
                    self.after = e.seq;
                    if scope.event(&e) {
                        self.pending.push_back(frame(&e));
                    }
                }
                continue;
            }
            let outbox_changed = async {
                match &mut self.outbox {
                    Some((_, rx, _)) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = self.committed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                true = outbox_changed => {
                    if let Some((o, _, after)) = &mut self.outbox
                        && let Some((new, last)) = settled_after(o, *after).await
                    {
                        *after = last;
                        for r in new {
                            let data = serde_json::to_string(&r).unwrap_or_default();
                            self.pending
                                .push_back(Bytes::from(format!("event: notification\ndata: {data}\n\n")));
                        }
                    }
                }
                _ = self.stopping.changed() => {}
                () = tokio::time::sleep(KEEP_ALIVE) => {
                    self.pending.push_back(Bytes::from_static(b": keep-alive\n\n"));
                }
            }
        }
    }
}

/// The live event stream: what the caller's account may see of the log, from `Last-Event-ID`
/// (or `?after=`), else from now on.
#[utoipa::path(
    tag = "events",
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event (wins over `after`)"),
    ),
    responses((
        status = 200,
        description = "Server-Sent Events: `id:` the sequence number, `event:` the type, `data:` the event as `/api/v1/events` gives it; a keep-alive comment every 15 s",
        content_type = "text/event-stream",
        body = String,
    )),
)]
#[get("/api/v1/stream")]
pub async fn stream(
    state: web::Data<ApiState>,
    req: HttpRequest,
    q: web::Query<StreamQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let after = match req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or_default().trim().to_string())
    {
        Some(v) => v.parse::<u64>().map_err(|_| {
            ApiError::BadRequest(format!("Last-Event-ID: `{v}` is not an event number"))
        })?,
        None => q.after.unwrap_or_else(|| *state.committed.borrow()),
    };
    let mut pending = VecDeque::new();
    pending.push_back(Bytes::from(format!("retry: {RETRY_MS}\n\n")));
    // The staff also follow the notifications, from those settled after now.
    let outbox = match (&state.outbox, who.client()) {
        (Some(o), None) => {
            let rx = o.changes();
            let last = settled_after(o, 0).await.map_or(0, |(_, last)| last);
            Some((o.clone(), rx, last))
        }
        _ => None,
    };
    let cursor = Cursor {
        outbox,
        committed: state.committed.clone(),
        stopping: state.stopping.clone(),
        state,
        who,
        after,
        pending,
    };
    let body = futures::stream::unfold(cursor, |mut c| async move {
        let b = c.next().await?;
        Some((Ok::<_, actix_web::Error>(b), c))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}
