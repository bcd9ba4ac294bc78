//! Reading vendors' XML (ISAPI, ONVIF SOAP) by local element name, whatever the namespace:
//! the same Hikvision document comes with `hikvision.com` or `std-cgi.com` namespaces
//! depending on the firmware.

pub use roxmltree::{Document, Node};

use crate::ProbeError;

/// Parses an XML document; a malformed one is a bad response naming `what`.
pub fn parse<'a>(text: &'a str, what: &str) -> Result<Document<'a>, ProbeError> {
    Document::parse(text).map_err(|e| ProbeError::BadResponse(format!("{what}: invalid XML: {e}")))
}

/// The first descendant of `node` (or `node` itself) with this local name.
pub fn find<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// Every descendant of `node` with this local name, in document order.
pub fn find_all<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.descendants()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

/// The trimmed text of the first direct child of `node` with this local name.
pub fn child_text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
        .and_then(|n| n.text())
        .map(str::trim)
}

/// The trimmed text of the first descendant of `node` with this local name.
pub fn text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    find(node, name).and_then(|n| n.text()).map(str::trim)
}

/// The number in the first descendant of `node` with this local name.
pub fn number(node: Node<'_, '_>, name: &str) -> Option<f64> {
    text(node, name)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_found_by_local_name_in_any_namespace() {
        for ns in [
            "http://www.hikvision.com/ver20/XMLSchema",
            "http://www.std-cgi.com/ver20/XMLSchema",
        ] {
            let page = format!(
                r#"<DeviceInfo version="2.0" xmlns="{ns}"><model> DS-7608NI </model><a><serialNumber>X1</serialNumber></a></DeviceInfo>"#
            );
            let doc = parse(&page, "deviceInfo").expect("valid XML");
            let root = doc.root_element();
            assert_eq!(child_text(root, "model"), Some("DS-7608NI"));
            assert_eq!(child_text(root, "serialNumber"), None);
            assert_eq!(text(root, "serialNumber"), Some("X1"));
        }
    }

    #[test]
    fn malformed_xml_is_a_bad_response_naming_the_document() {
        let err = parse("<a><b></a>", "/ISAPI/System/status").expect_err("malformed");
        assert!(
            matches!(&err, ProbeError::BadResponse(m) if m.starts_with("/ISAPI/System/status: invalid XML")),
            "{err}"
        );
    }
}
