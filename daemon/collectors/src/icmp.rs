//! ICMP echo: availability and round-trip time of every equipment with an address.
//!
//! One ICMP socket per address family serves the whole daemon (an unprivileged datagram
//! socket when the system allows it, else a raw socket). A dedicated thread owns it: it sends the echo requests of
//! every ping in flight and matches replies by source address and sequence number, so a
//! fleet of any size costs one socket and one thread, not one per ping.
//!
//! The thread wakes on a grid of [`SLOT`]s rather than once per packet: every request sent and
//! every round expired is rounded up to the next slot, new pings are picked up at the slot
//! (while others are in flight), and the replies already queued are read right after each
//! batch of sends. A fleet's thousands of pings a second then cost at most one wake-up per
//! slot, plus one per batch of replies arriving between slots.

use socket2::{Domain, Protocol, Socket, Type};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use vigie_core::config::Collection;
use vigie_core::observation::{Metric, Observation};

/// The pinger thread's time grid: sends and expiries fall on multiples of it (the config's
/// ping budget counts it).
pub const SLOT: Duration = Collection::PING_SLOT;

/// How pings are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PingSettings {
    /// Echo requests per round.
    pub count: u16,
    /// Delay between the requests of a round.
    pub spacing: Duration,
    /// How long to wait for replies after the last request of a round.
    pub timeout: Duration,
    /// Extra rounds when a round got no reply at all.
    pub retries: u16,
}

impl Default for PingSettings {
    fn default() -> Self {
        PingSettings {
            count: 3,
            spacing: Collection::PING_SPACING,
            timeout: Duration::from_secs(1),
            retries: 1,
        }
    }
}

/// Outcome of one round.
#[derive(Debug, Clone, PartialEq)]
pub struct PingResult {
    /// Requests sent.
    pub sent: u16,
    /// Round-trip times of the replies.
    pub rtts: Vec<Duration>,
    /// A send error, if the requests could not leave.
    pub error: Option<String>,
}

struct Request {
    addr: IpAddr,
    settings: PingSettings,
    reply: oneshot::Sender<PingResult>,
}

/// Handle to the daemon's pinger; cheap to clone, usable from any thread or runtime.
#[derive(Clone, Debug)]
pub struct Pinger {
    tx: mpsc::UnboundedSender<Request>,
    /// The ICMPv6 socket's channel, or why it could not be opened.
    tx6: Result<mpsc::UnboundedSender<Request>, String>,
    /// Whether the IPv4 socket is raw (else an unprivileged datagram socket).
    pub raw: bool,
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from_be_bytes([chunk[0], 0])
        };
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request with identifier `ident` and sequence `seq` (ICMPv6 when `v6`: its
/// checksum is left to the kernel, which computes it over the IPv6 pseudo-header).
pub fn echo_request(ident: u16, seq: u16, v6: bool) -> Vec<u8> {
    let mut p = vec![0u8; 8 + 32];
    p[0] = if v6 { 128 } else { 8 }; // echo request
    p[4..6].copy_from_slice(&ident.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[8..].iter_mut().enumerate() {
        *b = b"vigie supervision echo request.."[i];
    }
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Reads an echo reply (raw IPv4 packets start with the IPv4 header): (identifier, sequence).
pub fn parse_reply(packet: &[u8], raw: bool, v6: bool) -> Option<(u16, u16)> {
    let reply_type = if v6 { 129 } else { 0 };
    let icmp = if raw && !v6 {
        let ihl = usize::from(*packet.first()? & 0x0f) * 4;
        packet.get(ihl..)?
    } else {
        packet
    };
    if icmp.len() < 8 || icmp[0] != reply_type || icmp[1] != 0 {
        return None;
    }
    Some((
        u16::from_be_bytes([icmp[4], icmp[5]]),
        u16::from_be_bytes([icmp[6], icmp[7]]),
    ))
}

struct Flight {
    addr: IpAddr,
    settings: PingSettings,
    to_send: u16,
    sent: u16,
    rtts: Vec<Duration>,
    error: Option<String>,
    reply: Option<oneshot::Sender<PingResult>>,
}

impl Pinger {
    /// Opens the daemon's ICMP sockets (IPv4, and IPv6 when the system has it) and starts
    /// their threads.
    pub fn start() -> std::io::Result<Pinger> {
        let (tx, raw) = open(false)?;
        let tx6 = open(true).map(|(tx, _)| tx).map_err(|e| e.to_string());
        Ok(Pinger { tx, tx6, raw })
    }

    /// Rounds of echo requests to `addr` until one gets a reply, at most `1 + retries`;
    /// `sent` counts the requests of every round.
    pub async fn ping(&self, addr: IpAddr, settings: PingSettings) -> PingResult {
        let tx = match (addr, &self.tx6) {
            (IpAddr::V4(_), _) => &self.tx,
            (IpAddr::V6(_), Ok(tx)) => tx,
            (IpAddr::V6(_), Err(e)) => {
                return PingResult {
                    sent: 0,
                    rtts: Vec::new(),
                    error: Some(format!("no ICMPv6 socket: {e}")),
                };
            }
        };
        let mut sent = 0;
        for _ in 0..=settings.retries {
            let (reply, rx) = oneshot::channel();
            if tx
                .send(Request {
                    addr,
                    settings,
                    reply,
                })
                .is_err()
            {
                break;
            }
            match rx.await {
                Ok(r) if !r.rtts.is_empty() || r.error.is_some() => {
                    return PingResult {
                        sent: sent + r.sent,
                        ..r
                    };
                }
                Ok(r) => sent += r.sent,
                Err(_) => break,
            }
        }
        let error = (sent == 0).then(|| "ICMP pinger stopped".to_string());
        PingResult {
            sent,
            rtts: Vec::new(),
            error,
        }
    }

    /// Pings an equipment's address and turns the result into an observation.
    pub async fn probe(&self, address: &str, settings: PingSettings) -> Observation {
        let addr = match resolve(address).await {
            Ok(a) => a,
            Err(reason) => return Observation::unknown(&reason),
        };
        let r = self.ping(addr, settings).await;
        if let Some(e) = r.error {
            return Observation::unknown(&format!("ICMP to {addr}: {e}"));
        }
        let loss = 1.0 - r.rtts.len() as f64 / f64::from(r.sent.max(1));
        if r.rtts.is_empty() {
            return Observation::down(&format!("no answer to {} ICMP echo requests", r.sent))
                .with_metric(Metric::new("network.icmp.loss", 1.0));
        }
        let avg = r.rtts.iter().map(Duration::as_secs_f64).sum::<f64>() / r.rtts.len() as f64;
        Observation::up()
            .with_metric(Metric::new("network.icmp.rtt", avg))
            .with_metric(Metric::new("network.icmp.loss", loss))
    }
}

async fn resolve(address: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok(ip);
    }
    // A name: its IPv4 address when it has one (the usual path to such equipment).
    let found: Vec<IpAddr> = tokio::net::lookup_host((address, 0))
        .await
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .map(|a| a.ip())
        .collect();
    found
        .iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| found.first())
        .copied()
        .ok_or_else(|| format!("{address} has no address"))
}

/// Opens one ICMP socket (datagram when allowed, else raw) and starts its thread.
fn open(v6: bool) -> std::io::Result<(mpsc::UnboundedSender<Request>, bool)> {
    let (domain, protocol) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    // A datagram ICMP socket when net.ipv4.ping_group_range allows it: the kernel then
    // delivers only this socket's replies. A raw socket otherwise (root or CAP_NET_RAW).
    let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(s) => (s, false),
        Err(_) => (Socket::new(domain, Type::RAW, Some(protocol))?, true),
    };
    socket.set_nonblocking(true)?;
    // Room for the replies of a full sweep; the kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(4 * 1024 * 1024);
    let std_socket: std::net::UdpSocket = socket.into();
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(if v6 { "vigie-icmp6" } else { "vigie-icmp" }.into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                match tokio::net::UdpSocket::from_std(std_socket) {
                    Ok(sock) => {
                        let _ = ready_tx.send(Ok(()));
                        run(sock, raw, v6, rx).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })?;
    ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("ICMP thread did not start"))??;
    Ok((tx, raw))
}

/// The pinger thread's state: flights in progress, requests awaiting replies, timed events.
struct Engine {
    /// The origin of the slot grid.
    origin: Instant,
    sock: tokio::net::UdpSocket,
    raw: bool,
    v6: bool,
    ident: u16,
    seq: u16,
    next_flight: u64,
    flights: HashMap<u64, Flight>,
    pending: HashMap<(IpAddr, u16), (u64, Instant)>,
    /// (when, flight, is a send): the next request of a flight, or its expiry.
    events: BinaryHeap<Reverse<(Instant, u64, bool)>>,
}

impl Engine {
    /// The first slot at or after `at`.
    fn slot(&self, at: Instant) -> Instant {
        let since = at.saturating_duration_since(self.origin).as_nanos();
        let slot = SLOT.as_nanos();
        let n = since.div_ceil(slot);
        self.origin + Duration::from_nanos(u64::try_from(n * slot).unwrap_or(u64::MAX))
    }

    fn finish(&mut self, id: u64) {
        if let Some(mut f) = self.flights.remove(&id) {
            if f.sent > 0 && f.rtts.len() < usize::from(f.sent) {
                self.pending.retain(|_, (flight, _)| *flight != id);
            }
            if let Some(reply) = f.reply.take() {
                let _ = reply.send(PingResult {
                    sent: f.sent,
                    rtts: f.rtts,
                    error: f.error,
                });
            }
        }
    }

    /// Sends the next echo request of a flight and schedules what follows.
    fn send(&mut self, id: u64, now: Instant) {
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        self.seq = self.seq.wrapping_add(1);
        let packet = echo_request(self.ident, self.seq, self.v6);
        match self.sock.try_send_to(&packet, SocketAddr::new(f.addr, 0)) {
            Ok(_) => {
                f.sent += 1;
                self.pending.insert((f.addr, self.seq), (id, now));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {} // Counted as lost.
            Err(e) => f.error = Some(e.to_string()),
        }
        f.to_send -= 1;
        let (after, is_send) = if f.to_send > 0 && f.error.is_none() {
            (f.settings.spacing, true)
        } else {
            (f.settings.timeout, false)
        };
        let at = self.slot(now + after);
        self.events.push(Reverse((at, id, is_send)));
    }

    fn start(&mut self, req: Request, now: Instant) {
        let id = self.next_flight;
        self.next_flight += 1;
        self.flights.insert(
            id,
            Flight {
                addr: req.addr,
                settings: req.settings,
                to_send: req.settings.count.max(1),
                sent: 0,
                rtts: Vec::new(),
                error: None,
                reply: Some(req.reply),
            },
        );
        // Its first request leaves with the next slot's batch.
        let at = self.slot(now);
        self.events.push(Reverse((at, id, true)));
    }

    /// Starts every ping waiting on the channel; `false` once the channel is closed.
    fn take_new(&mut self, rx: &mut mpsc::UnboundedReceiver<Request>, now: Instant) -> bool {
        loop {
            match rx.try_recv() {
                Ok(req) => self.start(req, now),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Reads every reply already queued on the socket.
    fn drain(&mut self, buf: &mut [u8]) {
        while let Ok((n, from)) = self.sock.try_recv_from(buf) {
            self.received(&buf[..n], from, Instant::now());
        }
    }

    fn received(&mut self, packet: &[u8], from: SocketAddr, now: Instant) {
        let src = from.ip();
        let Some((ident, seq)) = parse_reply(packet, self.raw, self.v6) else {
            return;
        };
        if self.raw && ident != self.ident {
            return; // Another program's ping.
        }
        let Some((id, sent_at)) = self.pending.remove(&(src, seq)) else {
            return;
        };
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        f.rtts.push(now.saturating_duration_since(sent_at));
        // Every request answered: no need to wait for the timeout.
        if f.to_send == 0 && f.rtts.len() == usize::from(f.sent) {
            self.finish(id);
        }
    }

    fn due(&mut self, now: Instant) {
        while let Some(Reverse((at, id, is_send))) = self.events.peek().copied() {
            if at > now {
                break;
            }
            self.events.pop();
            if !self.flights.contains_key(&id) {
                continue;
            }
            if is_send {
                self.send(id, now)
            } else {
                self.finish(id)
            }
        }
    }
}

async fn run(
    sock: tokio::net::UdpSocket,
    raw: bool,
    v6: bool,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    let mut e = Engine {
        origin: Instant::now(),
        sock,
        raw,
        v6,
        ident: (std::process::id() & 0xffff) as u16,
        seq: 0,
        next_flight: 0,
        flights: HashMap::new(),
        pending: HashMap::new(),
        events: BinaryHeap::new(),
    };
    let mut buf = vec![0u8; 2048];
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let sleep = tokio::time::sleep_until(far);
    tokio::pin!(sleep);
    loop {
        let next = e
            .events
            .peek()
            .map(|Reverse((at, _, _))| *at)
            .unwrap_or(far);
        if sleep.deadline() != next {
            sleep.as_mut().reset(next);
        }
        tokio::select! {
            // While pings are in flight, new ones wait for the next slot (picked up below).
            req = rx.recv(), if e.flights.is_empty() => {
                let Some(req) = req else { return };
                let now = Instant::now();
                e.start(req, now);
                // A closed channel is seen by the next `recv`, once nothing is in flight.
                e.take_new(&mut rx, now);
            }
            ready = e.sock.readable() => {
                if ready.is_err() {
                    continue;
                }
                e.drain(&mut buf);
            }
            () = &mut sleep => {
                let now = Instant::now();
                if !e.take_new(&mut rx, now) && e.flights.is_empty() {
                    return;
                }
                e.due(now);
                // Replies that came back during the batch (on a near network, most of them).
                e.drain(&mut buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_requests_carry_a_valid_checksum_and_replies_are_read() {
        let p = echo_request(0x1234, 7, false);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        let mut reply = p.clone();
        reply[0] = 0;
        assert_eq!(parse_reply(&reply, false, false), Some((0x1234, 7)));
        let mut with_ip = vec![0x45u8; 1];
        with_ip.extend_from_slice(&[0u8; 19]);
        with_ip.extend_from_slice(&reply);
        assert_eq!(parse_reply(&with_ip, true, false), Some((0x1234, 7)));
        assert_eq!(
            parse_reply(&p, false, false),
            None,
            "a request is not a reply"
        );
        assert_eq!(parse_reply(&[0, 0, 1], false, false), None);
        assert_eq!(parse_reply(&[0x4f], true, false), None);
    }
}
