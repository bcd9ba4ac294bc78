//! SNMP v2c and v3: GET and GETBULK walks with timeouts and retries, and the standard profile
//! that maps standard MIBs onto vigie metrics.
//!
//! v2c requests are encoded here and sent on a UDP socket connected to the agent for the
//! poll; answers are decoded by the `snmp2` crate. Sockets and their receive buffers are kept
//! in a bounded pool between polls, so a poll costs a `connect` instead of a socket's creation,
//! binding, registration and closing and two zeroed 64 KiB buffers; memory and descriptors
//! follow the polls in flight (bounded by the daemon), never the number of targets. v3 runs
//! on `snmp2`'s session (engine discovery, localised keys, privacy), one per poll.

use snmp2::{AsyncSession, MessageType, Oid, Pdu, Value, v3};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;
use vigie_core::config::{
    Credentials, EquipmentKind, SnmpAuth, SnmpPrivacy, SnmpSettings, SnmpVersion,
};
use vigie_core::observation::{Metric, Observation};

/// Rows of an SNMP answer: OID and value.
pub type Rows = Vec<(Vec<u64>, Val)>;

/// A table walked by column: column -> index suffix -> value.
type Table<'a> = BTreeMap<u64, BTreeMap<&'a [u64], &'a Val>>;

/// Most rows one walk may return.
pub const MAX_WALK_ROWS: usize = 10_000;
/// Rows asked per GETBULK.
const BULK: u32 = 25;

/// An owned SNMP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// INTEGER.
    Int(i64),
    /// Counter32, Gauge32/Unsigned32, Counter64.
    Uint(u64),
    /// TimeTicks (hundredths of a second).
    Ticks(u32),
    /// OCTET STRING.
    Str(Vec<u8>),
    /// OBJECT IDENTIFIER.
    Oid(Vec<u64>),
    /// noSuchObject, noSuchInstance, NULL or a type vigie does not read.
    Missing,
}

impl Val {
    fn of(v: &Value<'_>) -> Val {
        match v {
            Value::Integer(i) => Val::Int(*i),
            Value::Counter32(u) | Value::Unsigned32(u) => Val::Uint(u64::from(*u)),
            Value::Counter64(u) => Val::Uint(*u),
            Value::Timeticks(t) => Val::Ticks(*t),
            Value::OctetString(s) => Val::Str(s.to_vec()),
            Value::ObjectIdentifier(o) => Val::Oid(oid_vec(o)),
            _ => Val::Missing,
        }
    }

    /// The value as a number (strings such as `"0.15"` are parsed).
    pub fn number(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Uint(u) => Some(*u as f64),
            Val::Ticks(t) => Some(f64::from(*t)),
            Val::Str(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as text.
    pub fn text(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(String::from_utf8_lossy(s).trim().to_string()),
            Val::Int(i) => Some(i.to_string()),
            Val::Uint(u) => Some(u.to_string()),
            _ => None,
        }
    }
}

/// The arcs of an OID, decoded from its BER content in one pass (a walk decodes one per row);
/// empty when an arc does not fit 64 bits or the content is cut short.
fn oid_vec(o: &Oid<'_>) -> Vec<u64> {
    let bytes = o.as_bytes();
    let mut arcs = Vec::with_capacity(bytes.len() + 1);
    let mut arc: u64 = 0;
    for &b in bytes {
        if arc >> 57 != 0 {
            return Vec::new();
        }
        arc = (arc << 7) | u64::from(b & 0x7f);
        if b & 0x80 != 0 {
            continue;
        }
        if arcs.is_empty() {
            // The first two arcs share the first subidentifier: 40 × first + second.
            let first = (arc / 40).min(2);
            arcs.push(first);
            arcs.push(arc - 40 * first);
        } else {
            arcs.push(arc);
        }
        arc = 0;
    }
    if bytes.last().is_some_and(|b| b & 0x80 != 0) {
        return Vec::new();
    }
    arcs
}

/// Why an SNMP exchange failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnmpError {
    /// No answer in time, after the retries (for v2c, also what a wrong community looks like).
    #[error("no SNMP answer within {0} (after retries)")]
    Timeout(String),
    /// The agent refused the v3 credentials.
    #[error("SNMPv3 authentication failed: {0}")]
    Auth(String),
    /// The answer is not valid SNMP.
    #[error("malformed SNMP answer: {0}")]
    BadResponse(String),
    /// A socket error.
    #[error("SNMP: {0}")]
    Io(String),
    /// The credentials cannot be used.
    #[error("SNMP credentials: {0}")]
    Credentials(String),
}

fn classify(e: snmp2::Error) -> SnmpError {
    use snmp2::Error as E;
    match e {
        E::AuthFailure(kind) => SnmpError::Auth(format!("{kind:?}")),
        E::CommunityMismatch => SnmpError::Auth("community mismatch".into()),
        E::Send | E::Receive => SnmpError::Io(format!("{e:?}")),
        E::Crypto(c) => SnmpError::Auth(format!("crypto: {c}")),
        other => SnmpError::BadResponse(format!("{other:?}")),
    }
}

/// Timeouts and retries of SNMP exchanges.
#[derive(Debug, Clone, Copy)]
pub struct SnmpClient {
    /// Wait for one answer.
    pub timeout: Duration,
    /// Extra attempts after a timeout.
    pub retries: u32,
}

impl Default for SnmpClient {
    fn default() -> Self {
        SnmpClient {
            timeout: Duration::from_secs(2),
            retries: 1,
        }
    }
}

/// An open session with one agent, for the duration of one poll.
pub struct Session {
    link: Link,
    client: SnmpClient,
}

/// How a session reaches its agent.
enum Link {
    /// v2c: requests encoded here, on a pooled socket connected to the agent.
    V2c { conn: Conn, community: Vec<u8> },
    /// v3: `snmp2`'s session.
    V3(Box<AsyncSession>),
}

/// Largest SNMP message over UDP, the receive buffer's room.
const RECEIVE_ROOM: usize = 65_507;
/// Sockets kept between polls, per address family.
const POOLED: usize = 256;

/// Sockets (non-blocking, not registered with any runtime) and their receive buffers kept
/// between polls.
struct Pool {
    v4: Vec<(std::net::UdpSocket, Vec<u8>)>,
    v6: Vec<(std::net::UdpSocket, Vec<u8>)>,
}

impl Pool {
    /// The sockets of one address family.
    fn family(&mut self, v6: bool) -> &mut Vec<(std::net::UdpSocket, Vec<u8>)> {
        if v6 { &mut self.v6 } else { &mut self.v4 }
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    v4: Vec::new(),
    v6: Vec::new(),
});

/// Request ids, unique across the daemon's sessions, so a late answer is never taken for
/// another request's.
static REQUEST_ID: AtomicI32 = AtomicI32::new(0);

fn next_request_id() -> i32 {
    let id = REQUEST_ID.fetch_add(1, Ordering::Relaxed);
    (std::process::id() as i32)
        .wrapping_mul(7919)
        .wrapping_add(id)
        & 0x3fff_ffff
}

/// A UDP socket connected to one agent for one poll. It goes back to the pool when the poll
/// ends with every exchange answered (nothing late can still arrive on it), and is closed
/// otherwise.
struct Conn {
    socket: Option<tokio::net::UdpSocket>,
    buf: Vec<u8>,
    v6: bool,
    clean: bool,
}

impl Conn {
    /// A pooled socket (or a new one) connected to `dest`.
    fn to(dest: SocketAddr) -> std::io::Result<Conn> {
        let v6 = dest.is_ipv6();
        let pooled = POOL.lock().ok().and_then(|mut p| p.family(v6).pop());
        let (socket, buf) = match pooled {
            Some(kept) => kept,
            None => {
                let any: SocketAddr = if v6 {
                    (Ipv6Addr::UNSPECIFIED, 0).into()
                } else {
                    (Ipv4Addr::UNSPECIFIED, 0).into()
                };
                let s = std::net::UdpSocket::bind(any)?;
                s.set_nonblocking(true)?;
                (s, Vec::with_capacity(RECEIVE_ROOM))
            }
        };
        socket.connect(dest)?;
        Ok(Conn {
            socket: Some(tokio::net::UdpSocket::from_std(socket)?),
            buf,
            v6,
            clean: false,
        })
    }

    /// Sends a request without waiting for its answer.
    async fn send(&mut self, request: &[u8]) -> Result<(), snmp2::Error> {
        self.clean = false;
        let socket = self.socket.as_ref().ok_or(snmp2::Error::Send)?;
        socket.send(request).await.map_err(|_| snmp2::Error::Send)?;
        Ok(())
    }

    /// Waits for the next answer, whichever request it answers: its request id and rows.
    async fn answer(&mut self, community: &[u8]) -> Result<(i32, Answer), snmp2::Error> {
        let Conn { socket, buf, .. } = self;
        let socket = socket.as_ref().ok_or(snmp2::Error::Receive)?;
        buf.clear();
        socket
            .recv_buf(buf)
            .await
            .map_err(|_| snmp2::Error::Receive)?;
        let pdu = Pdu::from_bytes(buf)?;
        if pdu.message_type != MessageType::Response {
            return Err(snmp2::Error::AsnWrongType);
        }
        if pdu.community != community {
            return Err(snmp2::Error::CommunityMismatch);
        }
        Ok((pdu.req_id, answer_of(pdu)))
    }

    /// Sends one request and waits for its answer, skipping late answers to earlier ones.
    async fn exchange(
        &mut self,
        request: &[u8],
        id: i32,
        community: &[u8],
    ) -> Result<Answer, snmp2::Error> {
        self.send(request).await?;
        loop {
            let (answered, rows) = self.answer(community).await?;
            if answered == id {
                self.clean = true;
                return Ok(rows);
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.clean {
            return;
        }
        let Some(Ok(socket)) = self.socket.take().map(|s| s.into_std()) else {
            return;
        };
        let buf = std::mem::take(&mut self.buf);
        if let Ok(mut pool) = POOL.lock() {
            let kept = pool.family(self.v6);
            if kept.len() < POOLED {
                kept.push((socket, buf));
            }
        }
    }
}

/// BER encoding of the two v2c requests the collector sends.
mod request {
    use snmp2::Oid;

    /// A GET of `oids`.
    pub fn get(community: &[u8], id: i32, oids: &[Oid<'_>]) -> Vec<u8> {
        encode(community, GET, id, 0, 0, oids)
    }

    /// A GETBULK from `oids`, [`super::BULK`] rows each.
    pub fn bulk(community: &[u8], id: i32, oids: &[Oid<'_>]) -> Vec<u8> {
        encode(community, GET_BULK, id, 0, super::BULK.into(), oids)
    }

    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    const OBJECT_IDENTIFIER: u8 = 0x06;
    const NULL: [u8; 2] = [0x05, 0x00];
    /// GetRequest-PDU.
    const GET: u8 = 0xa0;
    /// GetBulkRequest-PDU.
    const GET_BULK: u8 = 0xa5;

    fn length(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }

    fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
        out.push(tag);
        length(out, content.len());
        out.extend_from_slice(content);
    }

    fn integer(out: &mut Vec<u8>, n: i64) {
        let bytes = n.to_be_bytes();
        let mut start = 0;
        // The shortest two's complement form: drop a leading byte that only repeats the sign.
        while start < bytes.len() - 1
            && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
                || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
        {
            start += 1;
        }
        tlv(out, INTEGER, &bytes[start..]);
    }

    /// A v2c message: `pdu` is [`GET`] (`a`, `b` are the error status and index, 0) or
    /// [`GET_BULK`] (`a`, `b` are non-repeaters and max-repetitions), each OID asking NULL.
    pub fn encode(community: &[u8], pdu: u8, id: i32, a: i64, b: i64, oids: &[Oid<'_>]) -> Vec<u8> {
        let mut bindings = Vec::with_capacity(oids.len() * 16);
        let mut one = Vec::with_capacity(32);
        for oid in oids {
            one.clear();
            tlv(&mut one, OBJECT_IDENTIFIER, oid.as_bytes());
            one.extend_from_slice(&NULL);
            tlv(&mut bindings, SEQUENCE, &one);
        }
        let mut body = Vec::with_capacity(bindings.len() + 16);
        integer(&mut body, i64::from(id));
        integer(&mut body, a);
        integer(&mut body, b);
        tlv(&mut body, SEQUENCE, &bindings);
        let mut message = Vec::with_capacity(body.len() + community.len() + 16);
        integer(&mut message, 1);
        tlv(&mut message, OCTET_STRING, community);
        tlv(&mut message, pdu, &body);
        let mut out = Vec::with_capacity(message.len() + 4);
        tlv(&mut out, SEQUENCE, &message);
        out
    }
}

fn security(
    creds: Option<&Credentials>,
    auth: SnmpAuth,
    privacy: SnmpPrivacy,
) -> Result<v3::Security, SnmpError> {
    let c = creds.ok_or_else(|| {
        SnmpError::Credentials("SNMPv3 needs credentials with a username and a password".into())
    })?;
    let user = c.username.clone().ok_or_else(|| {
        SnmpError::Credentials(format!("credentials `{}` have no username", c.name))
    })?;
    let password = c
        .password
        .as_ref()
        .ok_or_else(|| {
            SnmpError::Credentials(format!("credentials `{}` have no password", c.name))
        })?
        .read()
        .map_err(|e| SnmpError::Credentials(e.to_string()))?;
    let auth_protocol = match auth {
        SnmpAuth::Md5 => v3::AuthProtocol::Md5,
        SnmpAuth::Sha => v3::AuthProtocol::Sha1,
        SnmpAuth::Sha256 => v3::AuthProtocol::Sha256,
        SnmpAuth::Sha512 => v3::AuthProtocol::Sha512,
    };
    let mut sec = v3::Security::new(user.as_bytes(), password.expose().as_bytes())
        .with_auth_protocol(auth_protocol);
    let cipher = match privacy {
        SnmpPrivacy::None => None,
        SnmpPrivacy::Des => Some(v3::Cipher::Des),
        SnmpPrivacy::Aes => Some(v3::Cipher::Aes128),
        SnmpPrivacy::Aes256 => Some(v3::Cipher::Aes256),
    };
    sec = match cipher {
        None => sec.with_auth(v3::Auth::AuthNoPriv),
        Some(cipher) => {
            let privacy_password = match &c.privacy_password {
                Some(p) => p
                    .read()
                    .map_err(|e| SnmpError::Credentials(e.to_string()))?,
                None => password.clone(),
            };
            sec.with_auth(v3::Auth::AuthPriv {
                cipher,
                privacy_password: privacy_password.expose().as_bytes().to_vec(),
            })
        }
    };
    Ok(sec)
}

impl SnmpClient {
    /// After an exchange that failed (`Some(error)`) or timed out (`None`): `Ok` to ask again,
    /// or the error to give up with. v3 time synchronisation and stale answers are asked
    /// again without counting as retries.
    fn again(&self, attempt: &mut u32, failure: Option<snmp2::Error>) -> Result<(), SnmpError> {
        let allowed = match &failure {
            Some(snmp2::Error::AuthUpdated | snmp2::Error::RequestIdMismatch) => self.retries + 2,
            Some(_) => 0,
            None => self.retries,
        };
        if *attempt < allowed {
            *attempt += 1;
            return Ok(());
        }
        Err(match failure {
            Some(e) => classify(e),
            None => SnmpError::Timeout(vigie_core::util::format_duration(self.timeout)),
        })
    }

    /// Opens a session with the agent at `address`.
    pub async fn open(
        &self,
        address: &str,
        settings: &SnmpSettings,
        creds: Option<&Credentials>,
    ) -> Result<Session, SnmpError> {
        let dest = format!("{}:{}", vigie_core::util::url_host(address), settings.port);
        let req_id = next_request_id();
        let mut inner = match settings.version {
            SnmpVersion::V2c => {
                let community = match creds.and_then(|c| c.password.as_ref()) {
                    Some(p) => p
                        .read()
                        .map_err(|e| SnmpError::Credentials(e.to_string()))?
                        .expose()
                        .as_bytes()
                        .to_vec(),
                    None => b"public".to_vec(),
                };
                let to = tokio::net::lookup_host(dest.as_str())
                    .await
                    .map_err(|e| SnmpError::Io(format!("{dest}: {e}")))?
                    .next()
                    .ok_or_else(|| SnmpError::Io(format!("{dest}: no address")))?;
                let conn = Conn::to(to).map_err(|e| SnmpError::Io(format!("{dest}: {e}")))?;
                return Ok(Session {
                    link: Link::V2c { conn, community },
                    client: *self,
                });
            }
            SnmpVersion::V3 { auth, privacy } => {
                let sec = security(creds, auth, privacy)?;
                AsyncSession::new_v3(dest.as_str(), req_id, sec)
                    .await
                    .map_err(|e| SnmpError::Io(e.to_string()))?
            }
        };
        {
            let mut attempt = 0;
            loop {
                match tokio::time::timeout(self.timeout, inner.init()).await {
                    Ok(Ok(())) => break,
                    Ok(Err(e)) => return Err(classify(e)),
                    Err(_) if attempt < self.retries => attempt += 1,
                    Err(_) => {
                        return Err(SnmpError::Timeout(vigie_core::util::format_duration(
                            self.timeout,
                        )));
                    }
                }
            }
        }
        Ok(Session {
            link: Link::V3(Box::new(inner)),
            client: *self,
        })
    }
}

/// Rows of one answer, each with whether it is the end of the agent's MIB view.
type Answer = Vec<(Vec<u64>, Val, bool)>;

/// The rows an answer carries.
fn answer_of(pdu: Pdu<'_>) -> Answer {
    pdu.varbinds
        .map(|(o, v)| (oid_vec(&o), Val::of(&v), matches!(v, Value::EndOfMibView)))
        .collect()
}

/// An OID to ask for.
fn oid_of(arcs: &[u64]) -> Result<Oid<'static>, SnmpError> {
    Oid::from(arcs).map_err(|e| SnmpError::Io(format!("bad OID: {e:?}")))
}

impl Session {
    /// One request (GET, or GETBULK from the OIDs) with the client's timeout and retries.
    async fn ask(&mut self, bulk: bool, oids: &[Oid<'_>]) -> Result<Answer, SnmpError> {
        let timeout = self.client.timeout;
        let mut attempt = 0;
        loop {
            let answer = match &mut self.link {
                Link::V2c { conn, community } => {
                    let id = next_request_id();
                    let message = if bulk {
                        request::bulk(community, id, oids)
                    } else {
                        request::get(community, id, oids)
                    };
                    tokio::time::timeout(timeout, conn.exchange(&message, id, community)).await
                }
                Link::V3(session) => {
                    let refs: Vec<&Oid<'_>> = oids.iter().collect();
                    if bulk {
                        tokio::time::timeout(timeout, session.getbulk(&refs, 0, BULK))
                            .await
                            .map(|r| r.map(answer_of))
                    } else {
                        tokio::time::timeout(timeout, session.get_many(&refs))
                            .await
                            .map(|r| r.map(answer_of))
                    }
                }
            };
            match answer {
                Ok(Ok(rows)) => return Ok(rows),
                Ok(Err(e)) => self.client.again(&mut attempt, Some(e))?,
                Err(_) => self.client.again(&mut attempt, None)?,
            }
        }
    }

    /// GET of several OIDs.
    pub async fn get(&mut self, oids: &[Vec<u64>]) -> Result<Vec<(Vec<u64>, Val)>, SnmpError> {
        let owned: Vec<Oid<'static>> = oids.iter().map(|o| oid_of(o)).collect::<Result<_, _>>()?;
        Ok(self
            .ask(false, &owned)
            .await?
            .into_iter()
            .map(|(o, v, _)| (o, v))
            .collect())
    }

    /// Walks the subtree under `root` with GETBULK.
    pub async fn walk(&mut self, root: &[u64]) -> Result<Vec<(Vec<u64>, Val)>, SnmpError> {
        let mut rows = Vec::new();
        let mut cursor = root.to_vec();
        loop {
            let batch = self.ask(true, &[oid_of(&cursor)?]).await?;
            if !take_batch(root, &mut cursor, &mut rows, batch)? {
                return Ok(rows);
            }
        }
    }

    /// Walks every subtree of `roots`: each answer, or `None` for a subtree the agent left
    /// unanswered after the retries. Over v2c the walks run together, their requests in
    /// flight at once on the poll's socket (one wake-up can take in several answers); over
    /// v3 one after the other. Any other failure fails them all.
    pub async fn walk_all(&mut self, roots: &[&[u64]]) -> Result<Vec<Option<Rows>>, SnmpError> {
        if let Link::V2c { conn, community } = &mut self.link {
            return walk_together(conn, community, self.client, roots).await;
        }
        let mut out = Vec::with_capacity(roots.len());
        for root in roots {
            out.push(match self.walk(root).await {
                Ok(rows) => Some(rows),
                Err(SnmpError::Timeout(_)) => None,
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }
}

/// Takes in one GETBULK answer of the walk of `root`: `Ok(true)` when the walk goes on from
/// the new `cursor`, `Ok(false)` when it left the subtree or reached the end of the MIB.
fn take_batch(
    root: &[u64],
    cursor: &mut Vec<u64>,
    rows: &mut Rows,
    batch: Answer,
) -> Result<bool, SnmpError> {
    if batch.is_empty() {
        return Ok(false);
    }
    for (oid, val, end) in batch {
        if end || !oid.starts_with(root) {
            return Ok(false);
        }
        if oid <= *cursor {
            return Err(SnmpError::BadResponse(
                "the agent's walk does not advance".into(),
            ));
        }
        cursor.clone_from(&oid);
        rows.push((oid, val));
        if rows.len() >= MAX_WALK_ROWS {
            return Err(SnmpError::BadResponse(format!(
                "walk of {} returned more than {MAX_WALK_ROWS} rows",
                dotted(root)
            )));
        }
    }
    Ok(true)
}

/// One walk of [`walk_together`].
struct Walk<'a> {
    root: &'a [u64],
    cursor: Vec<u64>,
    rows: Rows,
    /// The request in flight: its id and when it times out.
    asked: Option<(i32, tokio::time::Instant)>,
    attempt: u32,
    /// Finished: its rows, or `None` when the agent left it unanswered.
    done: Option<Option<Rows>>,
}

/// The v2c walks of `roots` with their requests in flight together on `conn`: each walk
/// sends its next GETBULK as soon as its answer is in, each request with its own timeout and
/// retries.
async fn walk_together(
    conn: &mut Conn,
    community: &[u8],
    client: SnmpClient,
    roots: &[&[u64]],
) -> Result<Vec<Option<Rows>>, SnmpError> {
    let mut walks: Vec<Walk<'_>> = roots
        .iter()
        .map(|root| Walk {
            root,
            cursor: root.to_vec(),
            rows: Vec::new(),
            asked: None,
            attempt: 0,
            done: None,
        })
        .collect();
    let mut silent = false;
    loop {
        for w in walks
            .iter_mut()
            .filter(|w| w.done.is_none() && w.asked.is_none())
        {
            let id = next_request_id();
            let message = request::bulk(community, id, &[oid_of(&w.cursor)?]);
            conn.send(&message).await.map_err(classify)?;
            w.asked = Some((id, tokio::time::Instant::now() + client.timeout));
        }
        let Some(first) = walks.iter().filter_map(|w| w.asked.map(|(_, at)| at)).min() else {
            break;
        };
        match tokio::time::timeout_at(first, conn.answer(community)).await {
            Ok(Ok((id, batch))) => {
                // An id no walk waits for is a late answer to a request asked again.
                let Some(w) = walks
                    .iter_mut()
                    .find(|w| w.asked.is_some_and(|(asked, _)| asked == id))
                else {
                    continue;
                };
                w.asked = None;
                if !take_batch(w.root, &mut w.cursor, &mut w.rows, batch)? {
                    w.done = Some(Some(std::mem::take(&mut w.rows)));
                }
            }
            Ok(Err(e)) => return Err(classify(e)),
            Err(_) => {
                let now = tokio::time::Instant::now();
                for w in walks
                    .iter_mut()
                    .filter(|w| w.asked.is_some_and(|(_, at)| at <= now))
                {
                    silent = true;
                    w.asked = None;
                    if client.again(&mut w.attempt, None).is_err() {
                        w.done = Some(None);
                    }
                }
            }
        }
    }
    // A request left unanswered may still be answered later: that socket is not kept.
    conn.clean = !silent;
    Ok(walks.into_iter().map(|w| w.done.flatten()).collect())
}

/// `1.3.6...` text of an OID.
pub fn dotted(oid: &[u64]) -> String {
    oid.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

const SYS_DESCR: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
const SYS_UPTIME: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
const SYS_NAME: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];
const HR_SYSTEM_UPTIME: &[u64] = &[1, 3, 6, 1, 2, 1, 25, 1, 1, 0];
const MEM_TOTAL_REAL: &[u64] = &[1, 3, 6, 1, 4, 1, 2021, 4, 5, 0];
const MEM_AVAIL_REAL: &[u64] = &[1, 3, 6, 1, 4, 1, 2021, 4, 6, 0];
const LA_LOAD_1: &[u64] = &[1, 3, 6, 1, 4, 1, 2021, 10, 1, 3, 1];
const HR_PROCESSOR_LOAD: &[u64] = &[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];
const HR_STORAGE_ENTRY: &[u64] = &[1, 3, 6, 1, 2, 1, 25, 2, 3, 1];
const HR_STORAGE_RAM: &[u64] = &[1, 3, 6, 1, 2, 1, 25, 2, 1, 2];
const HR_STORAGE_FIXED_DISK: &[u64] = &[1, 3, 6, 1, 2, 1, 25, 2, 1, 4];
const DSK_ENTRY: &[u64] = &[1, 3, 6, 1, 4, 1, 2021, 9, 1];
const PR_ENTRY: &[u64] = &[1, 3, 6, 1, 4, 1, 2021, 2, 1];
const LM_TEMP_ENTRY: &[u64] = &[1, 3, 6, 1, 4, 1, 2021, 13, 16, 2, 1];
const ENT_SENSOR_ENTRY: &[u64] = &[1, 3, 6, 1, 2, 1, 99, 1, 1, 1];
const HR_DEVICE_ENTRY: &[u64] = &[1, 3, 6, 1, 2, 1, 25, 3, 2, 1];
const HR_DEVICE_DISK_STORAGE: &[u64] = &[1, 3, 6, 1, 2, 1, 25, 3, 1, 6];
const IF_DESCR: &[u64] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 2];
const IF_OPER_STATUS: &[u64] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 8];

/// Rows of a table walk grouped by index: column -> index suffix -> value.
/// The rows of a walked table by column and index, borrowed from the walk (nothing copied).
fn table<'a>(rows: &'a [(Vec<u64>, Val)], entry: &[u64]) -> Table<'a> {
    let mut out = Table::new();
    for (oid, val) in rows {
        if let Some(rest) = oid.strip_prefix(entry)
            && let Some((col, index)) = rest.split_first()
        {
            out.entry(*col).or_default().insert(index, val);
        }
    }
    out
}

fn column<'t, 'a>(t: &'t Table<'a>, col: u64) -> impl Iterator<Item = (&'a [u64], &'a Val)> + 't {
    t.get(&col)
        .into_iter()
        .flat_map(|m| m.iter().map(|(index, val)| (*index, *val)))
}

fn cell<'a>(t: &Table<'a>, col: u64, index: &[u64]) -> Option<&'a Val> {
    t.get(&col)?.get(index).copied()
}

/// What one standard-profile poll read, before it becomes an observation.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProfileData {
    /// Scalars by OID.
    pub scalars: Rows,
    /// Walked rows by root.
    pub walks: Vec<(Vec<u64>, Rows)>,
}

impl ProfileData {
    fn scalar(&self, oid: &[u64]) -> Option<&Val> {
        self.scalars
            .iter()
            .find(|(o, _)| o == oid)
            .map(|(_, v)| v)
            .filter(|v| **v != Val::Missing)
    }

    fn walked(&self, root: &[u64]) -> &[(Vec<u64>, Val)] {
        self.walks
            .iter()
            .find(|(r, _)| r == root)
            .map(|(_, rows)| rows.as_slice())
            .unwrap_or(&[])
    }
}

/// The subtrees the standard profile walks for a kind of equipment.
pub fn profile_walks(kind: EquipmentKind) -> Vec<&'static [u64]> {
    match kind {
        EquipmentKind::Switch | EquipmentKind::Router => {
            vec![IF_DESCR, IF_OPER_STATUS, ENT_SENSOR_ENTRY]
        }
        EquipmentKind::Camera | EquipmentKind::Encoder => vec![],
        EquipmentKind::Nvr | EquipmentKind::VmsServer | EquipmentKind::Other => {
            vec![
                HR_PROCESSOR_LOAD,
                HR_STORAGE_ENTRY,
                DSK_ENTRY,
                PR_ENTRY,
                LM_TEMP_ENTRY,
                ENT_SENSOR_ENTRY,
                HR_DEVICE_ENTRY,
            ]
        }
    }
}

/// The scalars the standard profile reads.
pub fn profile_scalars() -> Vec<Vec<u64>> {
    [
        SYS_DESCR,
        SYS_UPTIME,
        SYS_NAME,
        HR_SYSTEM_UPTIME,
        MEM_TOTAL_REAL,
        MEM_AVAIL_REAL,
        LA_LOAD_1,
    ]
    .iter()
    .map(|o| o.to_vec())
    .collect()
}

/// Maps what the standard profile read onto vigie metrics and facts.
pub fn map_profile(
    data: &ProfileData,
    recording_service: Option<&str>,
) -> (Vec<Metric>, Vec<(String, String)>) {
    let mut metrics = Vec::new();
    let mut facts = Vec::new();
    if let Some(t) = data.scalar(SYS_DESCR).and_then(Val::text) {
        facts.push(("sysDescr".into(), t));
    }
    if let Some(t) = data.scalar(SYS_NAME).and_then(Val::text) {
        facts.push(("sysName".into(), t));
    }
    // Uptime: the host's (hrSystemUptime) when known, else the agent's (sysUpTime).
    if let Some(ticks) = data
        .scalar(HR_SYSTEM_UPTIME)
        .or_else(|| data.scalar(SYS_UPTIME))
        .and_then(Val::number)
    {
        metrics.push(Metric::new("device.uptime", ticks / 100.0));
    }
    if let Some(l) = data.scalar(LA_LOAD_1).and_then(Val::number) {
        metrics.push(Metric::new("system.cpu.load_average.1m", l));
    }
    let loads: Vec<f64> = data
        .walked(HR_PROCESSOR_LOAD)
        .iter()
        .filter_map(|(_, v)| v.number())
        .collect();
    if !loads.is_empty() {
        metrics.push(Metric::new(
            "system.cpu.utilization",
            loads.iter().sum::<f64>() / loads.len() as f64 / 100.0,
        ));
    }
    // hrStorageTable: 2 type, 3 descr, 4 allocation units, 5 size, 6 used (in units).
    let hr = table(data.walked(HR_STORAGE_ENTRY), HR_STORAGE_ENTRY);
    let mut memory_done = false;
    let mut disks: BTreeMap<String, f64> = BTreeMap::new();
    for (index, kind) in column(&hr, 2) {
        let Val::Oid(kind) = kind else { continue };
        let size = cell(&hr, 5, index).and_then(Val::number).unwrap_or(0.0);
        let used = cell(&hr, 6, index).and_then(Val::number).unwrap_or(0.0);
        let units = cell(&hr, 4, index).and_then(Val::number).unwrap_or(1.0);
        if size <= 0.0 {
            continue;
        }
        let ratio = (used * units) / (size * units);
        if kind.as_slice() == HR_STORAGE_RAM {
            metrics.push(Metric::new(
                "system.memory.utilization",
                ratio.clamp(0.0, 1.0),
            ));
            memory_done = true;
        } else if kind.as_slice() == HR_STORAGE_FIXED_DISK {
            let name = cell(&hr, 3, index)
                .and_then(Val::text)
                .unwrap_or_else(|| dotted(index));
            disks.insert(name, ratio.clamp(0.0, 1.0));
        }
    }
    if !memory_done
        && let (Some(total), Some(avail)) = (
            data.scalar(MEM_TOTAL_REAL).and_then(Val::number),
            data.scalar(MEM_AVAIL_REAL).and_then(Val::number),
        )
        && total > 0.0
    {
        metrics.push(Metric::new(
            "system.memory.utilization",
            (1.0 - avail / total).clamp(0.0, 1.0),
        ));
    }
    // UCD dskTable: 2 path, 9 percent used (for disks hrStorage did not report).
    let dsk = table(data.walked(DSK_ENTRY), DSK_ENTRY);
    for (index, path) in column(&dsk, 2) {
        if let (Some(path), Some(pct)) = (path.text(), cell(&dsk, 9, index).and_then(Val::number)) {
            disks.entry(path).or_insert(pct / 100.0);
        }
    }
    for (mount, ratio) in disks {
        metrics
            .push(Metric::new("system.filesystem.utilization", ratio).with("mountpoint", &mount));
    }
    // UCD prTable: 2 name, 100 error flag (watched processes).
    let pr = table(data.walked(PR_ENTRY), PR_ENTRY);
    let mut recording_seen = false;
    for (index, name) in column(&pr, 2) {
        let (Some(name), Some(flag)) = (name.text(), cell(&pr, 100, index).and_then(Val::number))
        else {
            continue;
        };
        let up = if flag == 0.0 { 1.0 } else { 0.0 };
        metrics.push(Metric::new("service.up", up).with("service", &name));
        if recording_service.is_some_and(|r| r.eq_ignore_ascii_case(&name)) {
            recording_seen = true;
            metrics.push(Metric::new("service.up", up).with("service", "recording"));
        }
    }
    if let Some(service) = recording_service
        && !recording_seen
    {
        if data.walks.iter().any(|(root, _)| root == PR_ENTRY) {
            // Read, and the watched service is not in it: stopped (R7).
            metrics.push(Metric::new("service.up", 0.0).with("service", "recording"));
            facts.push((
                "recording".to_string(),
                format!("service `{service}` is not in the SNMP process table (prTable): stopped, or not watched by the agent"),
            ));
        } else {
            facts.push((
                "recording".to_string(),
                format!("service `{service}` unknown: the SNMP process table (prTable) could not be read"),
            ));
        }
    }
    // LM-SENSORS-MIB: 2 device, 3 value in milli-degrees Celsius.
    let lm = table(data.walked(LM_TEMP_ENTRY), LM_TEMP_ENTRY);
    for (index, device) in column(&lm, 2) {
        if let (Some(device), Some(v)) = (device.text(), cell(&lm, 3, index).and_then(Val::number))
        {
            metrics.push(Metric::new("hw.temperature", v / 1000.0).with("sensor", &device));
        }
    }
    // ENTITY-SENSOR-MIB: 1 type (8 = celsius), 2 scale, 3 precision, 4 value.
    let ent = table(data.walked(ENT_SENSOR_ENTRY), ENT_SENSOR_ENTRY);
    for (index, kind) in column(&ent, 1) {
        if kind.number() != Some(8.0) {
            continue;
        }
        let Some(raw) = cell(&ent, 4, index).and_then(Val::number) else {
            continue;
        };
        // entPhySensorScale: 9 is units; each step is a factor of 1000 (8 milli, 10 kilo...).
        let scale = cell(&ent, 2, index).and_then(Val::number).unwrap_or(9.0);
        let precision = cell(&ent, 3, index).and_then(Val::number).unwrap_or(0.0);
        let value = raw * 10f64.powf(3.0 * (scale - 9.0)) / 10f64.powf(precision);
        let name = format!("entity {}", dotted(index));
        metrics.push(Metric::new("hw.temperature", value).with("sensor", &name));
    }
    // ENTITY-SENSOR-MIB fans (type 10, rpm): entPhySensorOperStatus 1 ok, 3 nonoperational.
    for (index, kind) in column(&ent, 1) {
        if kind.number() != Some(10.0) {
            continue;
        }
        let ok = match cell(&ent, 5, index).and_then(Val::number) {
            Some(1.0) => 1.0,
            Some(3.0) => 0.0,
            _ => continue,
        };
        metrics.push(
            Metric::new("hw.status", ok)
                .with("hw.type", "fan")
                .with("fan", &format!("entity {}", dotted(index))),
        );
    }
    // HOST-RESOURCES-MIB hrDeviceTable, disks (hrDeviceType hrDeviceDiskStorage):
    // hrDeviceStatus 2 running, 3 warning, 5 down (unknown and testing say nothing).
    let dev = table(data.walked(HR_DEVICE_ENTRY), HR_DEVICE_ENTRY);
    for (index, kind) in column(&dev, 2) {
        if !matches!(kind, Val::Oid(o) if o.as_slice() == HR_DEVICE_DISK_STORAGE) {
            continue;
        }
        let state = match cell(&dev, 5, index).and_then(Val::number) {
            Some(2.0) => "running",
            Some(3.0) => "warning",
            Some(5.0) => "down",
            _ => continue,
        };
        let name = cell(&dev, 3, index)
            .and_then(Val::text)
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| format!("device {}", dotted(index)));
        metrics.push(
            Metric::new("hw.status", if state == "running" { 1.0 } else { 0.0 })
                .with("hw.type", "physical_disk")
                .with("disk", &name)
                .with("state", state),
        );
    }
    // IF-MIB ifOperStatus (1 up, 2 down, ...), named by ifDescr.
    let names: BTreeMap<Vec<u64>, String> = data
        .walked(IF_DESCR)
        .iter()
        .filter_map(|(o, v)| Some((o.strip_prefix(IF_DESCR)?.to_vec(), v.text()?)))
        .collect();
    for (oid, v) in data.walked(IF_OPER_STATUS) {
        let Some(index) = oid.strip_prefix(IF_OPER_STATUS) else {
            continue;
        };
        let Some(status) = v.number() else { continue };
        let name = names.get(index).cloned().unwrap_or_else(|| dotted(index));
        metrics.push(
            Metric::new(
                "network.interface.up",
                if status == 1.0 { 1.0 } else { 0.0 },
            )
            .with("interface", &name),
        );
    }
    (metrics, facts)
}

/// Polls an equipment with the standard profile and its extra OIDs.
pub async fn poll(
    client: SnmpClient,
    address: &str,
    kind: EquipmentKind,
    settings: &SnmpSettings,
    creds: Option<&Credentials>,
    recording_service: Option<&str>,
) -> Observation {
    let mut session = match client.open(address, settings, creds).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    let mut data = ProfileData::default();
    // The scalars first: an agent that answers nothing is down; one that refuses is known.
    match session.get(&profile_scalars()).await {
        Ok(rows) => data.scalars = rows,
        Err(e) => return failure(e),
    }
    let roots = profile_walks(kind);
    match session.walk_all(&roots).await {
        Ok(walked) => {
            for (root, rows) in roots.iter().zip(walked) {
                if let Some(rows) = rows {
                    data.walks.push((root.to_vec(), rows));
                }
            }
        }
        Err(e) => return failure(e),
    }
    let (mut metrics, facts) = map_profile(&data, recording_service);
    if !settings.oids.is_empty() {
        let oids: Vec<Vec<u64>> = settings.oids.iter().map(|(_, o)| o.clone()).collect();
        match session.get(&oids).await {
            Ok(rows) => {
                for ((name, _), (_, v)) in settings.oids.iter().zip(rows) {
                    if let Some(x) = v.number() {
                        metrics.push(Metric::new(name, x));
                    }
                }
            }
            Err(e) => return failure(e),
        }
    }
    Observation {
        status: vigie_core::observation::ProbeStatus::Up,
        metrics,
        facts,
    }
}

fn failure(e: SnmpError) -> Observation {
    match e {
        SnmpError::Timeout(_) => Observation::down(&e.to_string()),
        other => Observation::unknown(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_back_by_snmp2_as_sent() {
        let oids: Vec<Oid<'static>> = [
            vec![1, 3, 6, 1, 2, 1, 1, 3, 0],
            vec![1, 3, 6, 1, 4, 1, 2021, 4, 5, 0],
            vec![1, 3, 6, 1, 4, 1, 4_294_967_295, 0],
        ]
        .iter()
        .map(|o| Oid::from(o).expect("oid"))
        .collect();
        // A community long enough for a long-form length, and ids needing one to four bytes.
        let long = vec![b'c'; 200];
        for (community, id) in [
            (b"public".to_vec(), 5),
            (long.clone(), 0x3fff_ffff),
            (long, 128),
        ] {
            let get = request::get(&community, id, &oids);
            let pdu = Pdu::from_bytes(&get).expect("GET decodes");
            assert_eq!(pdu.message_type, MessageType::GetRequest);
            assert_eq!((pdu.req_id, pdu.community), (id, &community[..]));
            assert_eq!((pdu.error_status, pdu.error_index), (0, 0));
            let back: Vec<Vec<u64>> = pdu.varbinds.map(|(o, _)| oid_vec(&o)).collect();
            let sent: Vec<Vec<u64>> = oids.iter().map(oid_vec).collect();
            assert_eq!(back, sent);

            let bulk = request::bulk(&community, id, &oids[..1]);
            let pdu = Pdu::from_bytes(&bulk).expect("GETBULK decodes");
            assert_eq!(pdu.message_type, MessageType::GetBulkRequest);
            assert_eq!((pdu.req_id, pdu.error_status, pdu.error_index), (id, 0, 25));
            assert_eq!(pdu.varbinds.count(), 1);
        }
    }

    /// An agent on loopback answering each GET with NULLs, first with a stale answer (another
    /// request's id) when `stale`, and never when `silent`; it tells the source port of each
    /// request it sees.
    async fn agent(stale: bool, silent: bool) -> (u16, tokio::sync::mpsc::UnboundedReceiver<u16>) {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp");
        let port = sock.local_addr().expect("addr").port();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_507];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(asked) = Pdu::from_bytes(&buf[..n]) else {
                    continue;
                };
                let (id, community) = (asked.req_id, asked.community.to_vec());
                let oids: Vec<Oid<'static>> = asked
                    .varbinds
                    .map(|(o, _)| Oid::from(&oid_vec(&o)).expect("oid"))
                    .collect();
                let _ = tx.send(from.port());
                if silent {
                    continue;
                }
                if stale {
                    let old = request::encode(&community, 0xa2, id.wrapping_sub(1), 0, 0, &oids);
                    let _ = sock.send_to(&old, from).await;
                }
                let answer = request::encode(&community, 0xa2, id, 0, 0, &oids);
                let _ = sock.send_to(&answer, from).await;
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn v2c_sockets_are_kept_after_a_clean_poll_and_closed_after_a_silence() {
        let client = SnmpClient {
            timeout: Duration::from_millis(300),
            retries: 0,
        };
        let uptime = vec![vec![1, 3, 6, 1, 2, 1, 1, 3, 0]];
        // One poll of the agent at `port`: a session and a GET of the uptime.
        let poll = |port| {
            let uptime = uptime.clone();
            async move {
                let settings = SnmpSettings {
                    port,
                    ..SnmpSettings::default()
                };
                let mut session = client
                    .open("127.0.0.1", &settings, None)
                    .await
                    .expect("open");
                session.get(&uptime).await
            }
        };
        // A late answer to an earlier request is skipped, not taken for this one's.
        let (port, mut seen) = agent(true, false).await;
        for _ in 0..2 {
            let rows = poll(port).await.expect("answered");
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].0, uptime[0]);
        }
        let first = seen.recv().await.expect("first");
        let second = seen.recv().await.expect("second");
        assert_eq!(
            first, second,
            "the second poll reuses the first one's socket"
        );

        // An agent that never answers: a timeout, and its socket is not kept.
        let (quiet, mut asked) = agent(false, true).await;
        let err = poll(quiet).await;
        assert!(matches!(err, Err(SnmpError::Timeout(_))), "{err:?}");
        let silent_from = asked.recv().await.expect("asked");
        poll(port).await.expect("answered");
        let after = seen.recv().await.expect("third");
        assert_ne!(after, silent_from, "a socket left waiting is never reused");
    }

    #[test]
    fn oids_decode_as_asn1_rs_reads_them() {
        for arcs in [
            vec![1, 3, 6, 1, 2, 1, 1, 3, 0],
            vec![0, 5],
            vec![1, 39, 127, 128, 16_383, 16_384],
            vec![2, 5, 4, 3],
            vec![1, 3, 6, 1, 4, 1, 4_294_967_295, u64::MAX],
        ] {
            let oid = Oid::from(&arcs).expect("oid");
            assert_eq!(oid_vec(&oid), arcs);
            // asn1-rs gives up on an arc of 64 bits; below that, both read the same.
            if let Some(theirs) = oid.iter().map(|i| i.collect::<Vec<u64>>()) {
                assert_eq!(oid_vec(&oid), theirs);
            }
        }
        // Cut short: no arcs rather than wrong ones.
        let cut = Oid::new(std::borrow::Cow::Borrowed(&[0x2b, 0x06, 0x81][..]));
        assert!(oid_vec(&cut).is_empty());
    }

    #[tokio::test]
    async fn v2c_walks_run_together_and_one_left_unanswered_is_only_skipped() {
        // The agent answers the walk of `table` (60 rows) only once it has seen the walk of
        // `quiet` asked too, and never answers `quiet`: walks one after the other would
        // leave `table` unanswered.
        let table: &[u64] = &[1, 3, 6, 1, 4, 1, 99, 1];
        let quiet: &[u64] = &[1, 3, 6, 1, 4, 1, 99, 2];
        let rows: Vec<Vec<u64>> = (1..=60)
            .map(|i| [table, &[i]].concat())
            .chain([vec![1, 3, 6, 1, 4, 1, 100]])
            .collect();
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp");
        let port = sock.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_507];
            let mut held = Vec::new();
            let mut quiet_asked = false;
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(asked) = Pdu::from_bytes(&buf[..n]) else {
                    continue;
                };
                let (id, community) = (asked.req_id, asked.community.to_vec());
                let Some(cursor) = asked.varbinds.map(|(o, _)| oid_vec(&o)).next() else {
                    continue;
                };
                if cursor.starts_with(quiet) {
                    quiet_asked = true;
                } else {
                    held.push((id, community, cursor, from));
                }
                if !quiet_asked {
                    continue;
                }
                for (id, community, cursor, from) in held.drain(..) {
                    let next: Vec<Oid<'static>> = rows
                        .iter()
                        .filter(|r| **r > cursor)
                        .take(25)
                        .map(|r| Oid::from(r).expect("oid"))
                        .collect();
                    let answer = request::encode(&community, 0xa2, id, 0, 0, &next);
                    let _ = sock.send_to(&answer, from).await;
                }
            }
        });
        let client = SnmpClient {
            timeout: Duration::from_millis(300),
            retries: 0,
        };
        let settings = SnmpSettings {
            port,
            ..SnmpSettings::default()
        };
        let mut session = client
            .open("127.0.0.1", &settings, None)
            .await
            .expect("open");
        let walked = session.walk_all(&[table, quiet]).await.expect("walked");
        assert_eq!(walked.len(), 2);
        let got = walked[0].as_ref().expect("the table's walk answered");
        assert_eq!(got.len(), 60);
        assert_eq!(got[59].0, [table, &[60]].concat());
        assert!(walked[1].is_none(), "the unanswered walk is skipped");
    }

    #[test]
    fn request_ids_are_never_reused_nor_negative() {
        let a = next_request_id();
        let b = next_request_id();
        assert_ne!(a, b);
        assert!(a >= 0 && b >= 0);
    }

    fn row(base: &[u64], suffix: &[u64], v: Val) -> (Vec<u64>, Val) {
        let mut o = base.to_vec();
        o.extend_from_slice(suffix);
        (o, v)
    }

    fn find(m: &[Metric], name: &str, attr: (&str, &str)) -> Option<f64> {
        m.iter()
            .find(|x| x.name == name && x.attribute(attr.0) == Some(attr.1))
            .map(|x| x.value)
    }

    #[test]
    fn a_watched_recording_service_missing_from_the_process_table_is_stopped() {
        let s = |t: &str| Val::Str(t.as_bytes().to_vec());
        let table = ProfileData {
            scalars: Vec::new(),
            walks: vec![(
                PR_ENTRY.to_vec(),
                vec![
                    row(PR_ENTRY, &[2, 1], s("snmpd")),
                    row(PR_ENTRY, &[100, 1], Val::Int(0)),
                ],
            )],
        };
        let (m, facts) = map_profile(&table, Some("milestone"));
        assert_eq!(find(&m, "service.up", ("service", "snmpd")), Some(1.0));
        assert_eq!(find(&m, "service.up", ("service", "recording")), Some(0.0));
        assert!(
            facts
                .iter()
                .any(|(k, v)| k == "recording" && v.contains("not in the SNMP process table")),
            "{facts:?}"
        );
        // A table that could not be read: no verdict, the reason as a fact.
        let unread = ProfileData::default();
        let (m, facts) = map_profile(&unread, Some("milestone"));
        assert_eq!(find(&m, "service.up", ("service", "recording")), None);
        assert!(
            facts
                .iter()
                .any(|(k, v)| k == "recording" && v.contains("could not be read")),
            "{facts:?}"
        );
        // No recording service configured: nothing is said.
        let (_, facts) = map_profile(&unread, None);
        assert!(facts.iter().all(|(k, _)| k != "recording"));
    }

    #[test]
    fn standard_profile_applies_units_scales_and_names() {
        let s = |t: &str| Val::Str(t.as_bytes().to_vec());
        let data = ProfileData {
            scalars: vec![
                (SYS_UPTIME.to_vec(), Val::Ticks(12_345)),
                (HR_SYSTEM_UPTIME.to_vec(), Val::Ticks(360_000)),
                (LA_LOAD_1.to_vec(), s("0.42")),
                (SYS_NAME.to_vec(), Val::Missing),
            ],
            walks: vec![
                (
                    HR_STORAGE_ENTRY.to_vec(),
                    vec![
                        row(HR_STORAGE_ENTRY, &[2, 1], Val::Oid(HR_STORAGE_RAM.to_vec())),
                        row(
                            HR_STORAGE_ENTRY,
                            &[2, 31],
                            Val::Oid(HR_STORAGE_FIXED_DISK.to_vec()),
                        ),
                        row(HR_STORAGE_ENTRY, &[3, 1], s("Physical memory")),
                        row(HR_STORAGE_ENTRY, &[3, 31], s("/hdd1")),
                        row(HR_STORAGE_ENTRY, &[4, 1], Val::Int(1024)),
                        row(HR_STORAGE_ENTRY, &[4, 31], Val::Int(4096)),
                        row(HR_STORAGE_ENTRY, &[5, 1], Val::Int(1000)),
                        row(HR_STORAGE_ENTRY, &[5, 31], Val::Int(2000)),
                        row(HR_STORAGE_ENTRY, &[6, 1], Val::Int(250)),
                        row(HR_STORAGE_ENTRY, &[6, 31], Val::Int(1800)),
                    ],
                ),
                (
                    LM_TEMP_ENTRY.to_vec(),
                    vec![
                        row(LM_TEMP_ENTRY, &[2, 1], s("coretemp-isa-0000 Core 0")),
                        row(LM_TEMP_ENTRY, &[3, 1], Val::Uint(71_500)),
                    ],
                ),
                (
                    ENT_SENSOR_ENTRY.to_vec(),
                    vec![
                        row(ENT_SENSOR_ENTRY, &[1, 1001], Val::Int(8)),
                        row(ENT_SENSOR_ENTRY, &[2, 1001], Val::Int(9)),
                        row(ENT_SENSOR_ENTRY, &[3, 1001], Val::Int(1)),
                        row(ENT_SENSOR_ENTRY, &[4, 1001], Val::Int(425)),
                        row(ENT_SENSOR_ENTRY, &[1, 1002], Val::Int(4)), // volts: ignored
                        row(ENT_SENSOR_ENTRY, &[4, 1002], Val::Int(12)),
                        row(ENT_SENSOR_ENTRY, &[1, 1003], Val::Int(10)), // rpm: a fan
                        row(ENT_SENSOR_ENTRY, &[5, 1003], Val::Int(3)),  // nonoperational
                        row(ENT_SENSOR_ENTRY, &[1, 1004], Val::Int(10)),
                        row(ENT_SENSOR_ENTRY, &[5, 1004], Val::Int(1)),
                    ],
                ),
                (
                    HR_DEVICE_ENTRY.to_vec(),
                    vec![
                        row(
                            HR_DEVICE_ENTRY,
                            &[2, 196608],
                            Val::Oid(HR_DEVICE_DISK_STORAGE.to_vec()),
                        ),
                        row(HR_DEVICE_ENTRY, &[3, 196608], s("SATA disk sda")),
                        row(HR_DEVICE_ENTRY, &[5, 196608], Val::Int(5)),
                        row(
                            HR_DEVICE_ENTRY,
                            &[2, 196609],
                            Val::Oid(HR_DEVICE_DISK_STORAGE.to_vec()),
                        ),
                        row(HR_DEVICE_ENTRY, &[3, 196609], s("SATA disk sdb")),
                        row(HR_DEVICE_ENTRY, &[5, 196609], Val::Int(2)),
                        // A processor: not a disk.
                        row(
                            HR_DEVICE_ENTRY,
                            &[2, 768],
                            Val::Oid(vec![1, 3, 6, 1, 2, 1, 25, 3, 1, 3]),
                        ),
                        row(HR_DEVICE_ENTRY, &[5, 768], Val::Int(5)),
                    ],
                ),
                (
                    IF_DESCR.to_vec(),
                    vec![
                        row(IF_DESCR, &[1], s("GigabitEthernet0/1")),
                        row(IF_DESCR, &[2], s("GigabitEthernet0/2")),
                    ],
                ),
                (
                    IF_OPER_STATUS.to_vec(),
                    vec![
                        row(IF_OPER_STATUS, &[1], Val::Int(1)),
                        row(IF_OPER_STATUS, &[2], Val::Int(2)),
                    ],
                ),
            ],
        };
        let (m, facts) = map_profile(&data, None);
        let plain = |name: &str| m.iter().find(|x| x.name == name).map(|x| x.value);
        assert_eq!(
            plain("device.uptime"),
            Some(3600.0),
            "hrSystemUptime wins over sysUpTime"
        );
        assert_eq!(plain("system.cpu.load_average.1m"), Some(0.42));
        assert_eq!(plain("system.memory.utilization"), Some(0.25));
        assert_eq!(
            find(&m, "system.filesystem.utilization", ("mountpoint", "/hdd1")),
            Some(0.9)
        );
        assert_eq!(
            find(&m, "hw.temperature", ("sensor", "coretemp-isa-0000 Core 0")),
            Some(71.5)
        );
        assert_eq!(
            find(&m, "hw.temperature", ("sensor", "entity 1001")),
            Some(42.5)
        );
        assert_eq!(m.iter().filter(|x| x.name == "hw.temperature").count(), 2);
        assert_eq!(find(&m, "hw.status", ("fan", "entity 1003")), Some(0.0));
        assert_eq!(find(&m, "hw.status", ("fan", "entity 1004")), Some(1.0));
        assert_eq!(find(&m, "hw.status", ("disk", "SATA disk sda")), Some(0.0));
        assert_eq!(find(&m, "hw.status", ("disk", "SATA disk sdb")), Some(1.0));
        assert_eq!(m.iter().filter(|x| x.name == "hw.status").count(), 4);
        assert_eq!(
            find(
                &m,
                "network.interface.up",
                ("interface", "GigabitEthernet0/1")
            ),
            Some(1.0)
        );
        assert_eq!(
            find(
                &m,
                "network.interface.up",
                ("interface", "GigabitEthernet0/2")
            ),
            Some(0.0)
        );
        assert!(facts.is_empty(), "a missing sysName is no fact: {facts:?}");
    }
}
