//! A plugin for vigie's tests that imports a capability the daemon does not provide
//! (`vigie-test:foreign/shell`): the daemon must refuse to load it.

#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "probe", generate_all });
}

use bindings::exports::vigie::probe::plugin::Guest;
use bindings::vigie::probe::types::{Description, ProbeError, Report, Target};

struct Foreign;

impl Guest for Foreign {
    fn describe() -> Description {
        Description {
            name: "foreign".into(),
            version: "0.1.0".into(),
            vendors: Vec::new(),
            models: Vec::new(),
            kinds: Vec::new(),
            params: Vec::new(),
        }
    }

    fn collect(_target: Target) -> Result<Report, ProbeError> {
        Err(ProbeError::BadResponse(
            bindings::vigie_test::foreign::shell::run("id"),
        ))
    }
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod export {
    use super::*;
    bindings::export!(Foreign with_types_in bindings);
}
