//! A plugin for vigie's tests built for a plugin API version the daemon does not run
//! (`vigie:probe@0.2.0`): the daemon must refuse it with a message naming both versions.

#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "probe" });
}

use bindings::exports::vigie::probe::plugin::Guest;
use bindings::vigie::probe::types::{Description, Facts, ProbeError, Report, Status, Target};

struct Future;

impl Guest for Future {
    fn describe() -> Description {
        Description {
            name: "future".into(),
            version: "2.0.0".into(),
            vendors: Vec::new(),
            models: Vec::new(),
            kinds: Vec::new(),
            params: Vec::new(),
        }
    }

    fn collect(_target: Target) -> Result<Report, ProbeError> {
        Ok(Report {
            status: Status::Up,
            detail: None,
            metrics: Vec::new(),
            children: Vec::new(),
            facts: Facts {
                model: None,
                serial: None,
                firmware: None,
                boot_id: None,
                clock_offset_ms: None,
                extra: Vec::new(),
            },
        })
    }
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod export {
    use super::*;
    bindings::export!(Future with_types_in bindings);
}
