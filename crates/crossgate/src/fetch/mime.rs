//! MIME Sniffing Standard, "parse a MIME type": the strict parser the Content-Type safelist uses
//! (Fetch §2.2.2 calls it, explicitly not the lenient "extract a MIME type").
//!
//! Only the essence matters to CORS. Parameters are parsed leniently by the standard and can
//! never make parsing fail, so they are not kept.

use super::{is_http_whitespace, is_tchar};

/// A parsed MIME type's type and subtype, lowercase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MimeEssence {
    /// The type, before the `/` (`text` in `Text/Plain;charset=utf-8`), lowercase.
    pub type_: String,
    /// The subtype, between the `/` and any `;` (`plain`), lowercase, without trailing
    /// whitespace.
    pub subtype: String,
}

impl MimeEssence {
    /// `type/subtype`.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.type_, self.subtype)
    }
}

/// MIME Sniffing §4.4 "parse a MIME type" on bytes (isomorphic decoding: one byte, one code
/// point), keeping the essence. `None` is failure.
pub fn parse_mime_type(input: &[u8]) -> Option<MimeEssence> {
    // Step 1: remove leading and trailing HTTP whitespace.
    let start = input.iter().position(|&b| !is_http_whitespace(b))?;
    let end = input.iter().rposition(|&b| !is_http_whitespace(b))? + 1;
    let input = &input[start..end];
    // Steps 3-6: type, up to `/`, a non-empty token; the input must go on past it.
    let slash = input.iter().position(|&b| b == b'/')?;
    let type_ = &input[..slash];
    if type_.is_empty() || !type_.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    // Steps 7-9: subtype, up to `;`, trailing HTTP whitespace removed, a non-empty token.
    let rest = &input[slash + 1..];
    let semicolon = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
    let subtype = &rest[..semicolon];
    let subtype_end = subtype
        .iter()
        .rposition(|&b| !is_http_whitespace(b))
        .map_or(0, |i| i + 1);
    let subtype = &subtype[..subtype_end];
    if subtype.is_empty() || !subtype.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    Some(MimeEssence {
        type_: String::from_utf8_lossy(type_).to_ascii_lowercase(),
        subtype: String::from_utf8_lossy(subtype).to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn essence(s: &[u8]) -> Option<String> {
        parse_mime_type(s).map(|m| m.essence())
    }

    #[test]
    fn the_standard_and_wpt_cases() {
        assert_eq!(essence(b"text/plain").as_deref(), Some("text/plain"));
        assert_eq!(
            essence(b" Text/Plain;charset=utf-8").as_deref(),
            Some("text/plain")
        );
        assert_eq!(essence(b"text/plain;").as_deref(), Some("text/plain"));
        assert_eq!(
            essence(b"text/plain;garbage").as_deref(),
            Some("text/plain")
        );
        assert_eq!(essence(b"text/plain ;x=\"").as_deref(), Some("text/plain"));
        assert_eq!(
            essence(b"multipart/form-data;\"").as_deref(),
            Some("multipart/form-data")
        );
        for bad in [
            &b"text /plain"[..],
            b"text\t/\tplain",
            b"text/plain,",
            b",text/plain",
            b"text/plain,x/x",
            b"text",
            b"text/",
            b"/plain",
            b"",
            b"   ",
            b"te\xe9xt/plain",
        ] {
            assert_eq!(essence(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
