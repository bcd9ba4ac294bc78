//! TCP and RTSP heartbeats for pure video devices: a TCP connect to a port, or an RTSP
//! `OPTIONS` exchange that must answer `RTSP/1.0 200`.

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vigie_core::observation::{Metric, Observation};

/// Largest RTSP answer read; a device sending more is answering garbage.
pub const MAX_RTSP_ANSWER: usize = 8 * 1024;

fn target(address: &str, port: u16) -> String {
    format!("{}:{port}", vigie_core::util::url_host(address))
}

async fn connect(
    address: &str,
    port: u16,
    timeout: Duration,
) -> Result<(TcpStream, Duration), Observation> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(target(address, port))).await {
        Ok(Ok(stream)) => Ok((stream, started.elapsed())),
        Ok(Err(e)) => Err(Observation::down(&format!("TCP port {port}: {e}"))),
        Err(_) => Err(Observation::down(&format!(
            "TCP port {port}: no answer within {}",
            vigie_core::util::format_duration(timeout)
        ))),
    }
}

fn service(name: &str, up: bool) -> Metric {
    Metric::new("service.up", if up { 1.0 } else { 0.0 }).with("service", name)
}

/// Connects to `address:port`.
pub async fn tcp_probe(address: &str, port: u16, timeout: Duration) -> Observation {
    let name = format!("tcp:{port}");
    match connect(address, port, timeout).await {
        Ok((_, rtt)) => Observation::up()
            .with_metric(service(&name, true))
            .with_metric(
                Metric::new("network.tcp.connect_time", rtt.as_secs_f64())
                    .with("port", &port.to_string()),
            ),
        Err(obs) => obs.with_metric(service(&name, false)),
    }
}

/// Sends `OPTIONS` to the RTSP server at `address:port` and checks for `RTSP/1.0 200`.
pub async fn rtsp_probe(address: &str, port: u16, timeout: Duration) -> Observation {
    let started = Instant::now();
    let (mut stream, _) = match connect(address, port, timeout).await {
        Ok(s) => s,
        Err(obs) => return obs.with_metric(service("rtsp", false)),
    };
    let request = format!(
        "OPTIONS rtsp://{}/ RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: vigie/{}\r\n\r\n",
        target(address, port),
        env!("CARGO_PKG_VERSION")
    );
    let left = timeout.saturating_sub(started.elapsed());
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() >= MAX_RTSP_ANSWER {
                break;
            }
        }
        Ok::<_, std::io::Error>(buf)
    };
    let answer = match tokio::time::timeout(left, exchange).await {
        Ok(Ok(buf)) => buf,
        Ok(Err(e)) => {
            return Observation::unknown(&format!("RTSP exchange failed: {e}"))
                .with_metric(service("rtsp", false));
        }
        Err(_) => {
            return Observation::unknown(
                "RTSP server accepted the connection but did not answer OPTIONS in time",
            )
            .with_metric(service("rtsp", false));
        }
    };
    let first_line = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    let first_line = String::from_utf8_lossy(first_line).trim().to_string();
    let mut parts = first_line.splitn(3, ' ');
    match (parts.next(), parts.next()) {
        (Some("RTSP/1.0"), Some("200")) => Observation::up()
            .with_metric(service("rtsp", true))
            .with_metric(Metric::new(
                "rtsp.response_time",
                started.elapsed().as_secs_f64(),
            )),
        (Some("RTSP/1.0"), Some(code)) => Observation::unknown(&format!(
            "RTSP server answered {code} to OPTIONS: {first_line}"
        ))
        .with_metric(service("rtsp", false)),
        _ if answer.is_empty() => {
            Observation::unknown("RTSP server closed the connection without answering")
                .with_metric(service("rtsp", false))
        }
        _ => {
            let shown: String = first_line.chars().take(60).collect();
            Observation::unknown(&format!("not an RTSP answer: {shown:?}"))
                .with_metric(service("rtsp", false))
        }
    }
}
