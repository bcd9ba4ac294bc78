//! The vendor probe plugins shipped with vigie (Hikvision, Dahua, Axis, ONVIF), built for
//! `wasm32-wasip2` by this crate's build script and embedded in the binary: a daemon has them
//! without a plugins directory, and a file of the same name in that directory overrides one.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The embedded plugins: each file name (`vigie_plugin_NAME.wasm`) and its bytes.
pub fn plugins() -> &'static [(&'static str, &'static [u8])] {
    PLUGINS
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_four_vendor_plugins_are_embedded_as_webassembly_components() {
        let names: Vec<&str> = super::plugins().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "vigie_plugin_axis.wasm",
                "vigie_plugin_dahua.wasm",
                "vigie_plugin_hikvision.wasm",
                "vigie_plugin_onvif.wasm"
            ]
        );
        for (name, bytes) in super::plugins() {
            // The WebAssembly magic, then a component's version and layer (0x0d 0x00 0x01 0x00).
            assert_eq!(&bytes[..8], b"\0asm\x0d\x00\x01\x00", "{name}");
        }
    }
}
