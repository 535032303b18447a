//! Fetch §2.2.2 "parse a single range header value", for the `Range` safelist.

/// A single byte range: `start` and `end` as digit strings (the standard's numbers are unbounded;
/// comparing digit strings avoids overflow). `None` means absent (`bytes=-500` has no start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SingleRange<'a> {
    /// The first byte's position, as written (leading zeros kept): `100` in `bytes=100-200`;
    /// `None` for a suffix range such as `bytes=-500` (the last 500 bytes).
    pub start: Option<&'a [u8]>,
    /// The last byte's position, inclusive, as written: `200` in `bytes=100-200`; `None` for an
    /// open range such as `bytes=100-` (to the end). Never below `start`.
    pub end: Option<&'a [u8]>,
}

/// Parses `bytes=START-END` with either number optional (not both). With `allow_whitespace`,
/// tabs and spaces may surround `=` and `-`; the safelist passes `false`.
pub fn parse_single_range(value: &[u8], allow_whitespace: bool) -> Option<SingleRange<'_>> {
    let mut rest = value.strip_prefix(b"bytes")?;
    let skip_ws = |r: &mut &[u8]| {
        if allow_whitespace {
            while let [b' ' | b'\t', tail @ ..] = *r {
                *r = tail;
            }
        }
    };
    skip_ws(&mut rest);
    rest = rest.strip_prefix(b"=")?;
    skip_ws(&mut rest);
    let start = digits(&mut rest);
    skip_ws(&mut rest);
    rest = rest.strip_prefix(b"-")?;
    skip_ws(&mut rest);
    let end = digits(&mut rest);
    if !rest.is_empty() {
        return None;
    }
    match (start, end) {
        (None, None) => None,
        (Some(s), Some(e)) if numeric_gt(s, e) => None,
        (start, end) => Some(SingleRange { start, end }),
    }
}

fn digits<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (d, tail) = rest.split_at(n);
    *rest = tail;
    (n > 0).then_some(d)
}

/// `a > b` for unbounded decimal digit strings.
pub fn numeric_gt(a: &[u8], b: &[u8]) -> bool {
    let trim = |d: &[u8]| -> usize { d.iter().take_while(|&&c| c == b'0').count() };
    let (a, b) = (&a[trim(a)..], &b[trim(b)..]);
    a.len() > b.len() || (a.len() == b.len() && a > b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wpt_range_cases() {
        let ok = |v: &str| parse_single_range(v.as_bytes(), false).is_some();
        assert!(ok("bytes=100-200"));
        assert!(ok("bytes=200-"));
        assert!(ok("bytes=-200"));
        assert!(ok("bytes=0-0"));
        assert!(ok("bytes=99999999999999999999999-"));
        assert!(ok("bytes=00001-2"));
        for bad in [
            "bytes = 100-200",
            "bytes=100-200,300-400",
            "bytes=abc-def",
            "bytes 0-",
            "bytes=200-100",
            "bytes=-",
            "bytes=1-2-3",
            " bytes=1-2",
            "Bytes=1-2",
            "bytes=1-2 ",
        ] {
            assert!(!ok(bad), "{bad}");
        }
        assert!(parse_single_range(b"bytes = 1 - 2", true).is_some());
        assert_eq!(
            parse_single_range(b"bytes=-200", false).unwrap().start,
            None
        );
    }

    #[test]
    fn digit_strings_compare_as_numbers() {
        assert!(numeric_gt(b"10", b"9"));
        assert!(!numeric_gt(b"0009", b"10"));
        assert!(!numeric_gt(b"5", b"5"));
        assert!(numeric_gt(
            b"100000000000000000000000",
            b"99999999999999999999999"
        ));
    }
}
