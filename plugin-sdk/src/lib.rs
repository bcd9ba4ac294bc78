//! Write vigie probe plugins: implement [`Probe`], call [`register_probe!`], build for
//! `wasm32-wasip2`, and test the logic natively with [`testing::FakeDevice`].
//!
//! ```
//! use vigie_plugin_sdk::{Description, EquipmentKind, Host, Metric, Probe, ProbeError, Report, Target};
//!
//! struct Example;
//!
//! impl Probe for Example {
//!     fn describe() -> Description {
//!         Description::new("example", "0.1.0").vendor("Example").kind(EquipmentKind::Camera)
//!     }
//!
//!     fn collect(_target: &Target, host: &dyn Host) -> Result<Report, ProbeError> {
//!         let page = host.get("/status")?;
//!         let text = page.ok_text("/status")?;
//!         let mut report = Report::up();
//!         if let Some(t) = text.strip_prefix("temperature=") {
//!             let t: f64 = t.trim().parse().map_err(|_| ProbeError::BadResponse(text.into()))?;
//!             report.metric(Metric::new("hw.temperature", t).with("sensor", "main"));
//!         }
//!         Ok(report)
//!     }
//! }
//!
//! vigie_plugin_sdk::register_probe!(Example);
//!
//! let device = vigie_plugin_sdk::testing::FakeDevice::new().respond("GET", "/status", 200, "temperature=41");
//! let report = device.collect::<Example>(&Target::new("192.0.2.10")).unwrap();
//! assert_eq!(report.value("hw.temperature", &[]), Some(41.0));
//! ```

extern crate self as vigie_plugin_sdk;

pub mod clock;
pub mod fetch;
pub mod json;
pub mod kv;
pub mod testing;
mod types;
pub mod units;
pub mod xml;

pub use types::*;

/// Version of the WIT package (`vigie:probe`) this SDK builds plugins for.
pub const API_VERSION: &str = "0.1.0";

/// Header the daemon adds to a 401 it hands a plugin: `none` (the equipment has no
/// credentials), `refused; user=NAME` (the host answered as NAME and was refused) or
/// `unanswerable` (no challenge the host can answer). [`HttpResponse::auth_refusal`] words it.
pub const AUTH_NOTE: &str = "x-vigie-auth";

/// What the daemon offers a plugin while it collects one equipment. Every network
/// capability reaches only the equipment's own address.
pub trait Host {
    /// Sends an HTTP request; the host answers Basic and Digest challenges itself.
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, HostError>;

    /// Connects to a TCP port of the equipment, writes `send`, and returns what it answers
    /// (at most `read_max` bytes).
    fn tcp_probe(&self, port: u16, send: &[u8], read_max: u32) -> Result<Vec<u8>, HostError>;

    /// SNMP GET of dotted OIDs, with the equipment's SNMP settings.
    fn snmp_get(&self, oids: &[&str]) -> Result<Vec<Varbind>, HostError>;

    /// SNMP walk of the subtree under a dotted OID.
    fn snmp_walk(&self, oid: &str) -> Result<Vec<Varbind>, HostError>;

    /// The daemon's clock, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Writes a line to the daemon's log.
    fn log(&self, level: LogLevel, message: &str);

    /// A fresh WS-Security UsernameToken for the equipment's credentials.
    fn ws_username_token(&self) -> Result<UsernameToken, HostError>;

    /// A WS-Security UsernameToken for the equipment's credentials whose creation time is
    /// `created_ms` (ms since the Unix epoch): for a device whose clock differs from the
    /// daemon's, since devices refuse tokens created too far from their own time. Sign with
    /// [`clock::device_now_ms`] once the device's clock offset is known.
    fn ws_username_token_at(&self, created_ms: i64) -> Result<UsernameToken, HostError>;

    /// A GET of a path or URL on the equipment.
    fn get(&self, url: &str) -> Result<HttpResponse, HostError> {
        self.http(&HttpRequest::get(url))
    }
}

/// A vendor probe. Both functions are called on a fresh instance, so a plugin keeps no
/// state between collections.
pub trait Probe {
    /// Describes the plugin (called when the daemon loads it; must not use the host).
    fn describe() -> Description;

    /// Collects one equipment.
    fn collect(target: &Target, host: &dyn Host) -> Result<Report, ProbeError>;
}

/// Exports a [`Probe`] implementation as the plugin's entry points:
/// `vigie_plugin_sdk::register_probe!(MyProbe);` once, at the root of the plugin crate.
#[macro_export]
macro_rules! register_probe {
    ($probe:ty) => {
        // Native builds (the plugin's own `cargo test`) have no component exports.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            struct VigieProbeExport;

            impl $crate::__private::Guest for VigieProbeExport {
                fn describe() -> $crate::__private::wit::Description {
                    $crate::__private::describe::<$probe>()
                }

                fn collect(
                    target: $crate::__private::wit::Target,
                ) -> ::core::result::Result<
                    $crate::__private::wit::Report,
                    $crate::__private::wit::ProbeError,
                > {
                    $crate::__private::collect::<$probe>(target)
                }
            }

            $crate::__private::bindings::__export_vigie_probe!(VigieProbeExport);
        };
    };
}

#[doc(hidden)]
pub mod __private;
