//! RFC 9110 §5.6.1 `#list` parsing, for the token lists of CORS headers
//! (`Access-Control-Request-Headers`, `-Allow-Methods`, `-Allow-Headers`, `-Expose-Headers`).
//!
//! These lists hold tokens only (no quoted strings), so a comma always separates elements.
//! Elements are separated by commas with optional whitespace (`OWS`); empty elements are allowed
//! and ignored; several field lines of one name form one list.

use super::{is_http_tab_or_space, is_token};

/// The raw elements of one field line: the bytes between commas, not yet trimmed. An empty line
/// yields one empty element.
#[derive(Clone, Debug)]
pub struct RawElements<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> RawElements<'a> {
    /// The elements of `line`, one field line's value (without the name): `b" a ,, b"` yields
    /// `b" a "`, `b""` and `b" b"`.
    pub fn new(line: &'a [u8]) -> Self {
        RawElements { rest: Some(line) }
    }
}

impl<'a> Iterator for RawElements<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match memchr::memchr(b',', rest) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// An element with its optional whitespace removed, and how many whitespace bytes surrounded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trimmed<'a> {
    /// The element without the spaces and tabs around it; empty for an empty element.
    pub value: &'a [u8],
    /// Spaces and tabs removed before the element, in bytes.
    pub leading_ows: usize,
    /// Spaces and tabs removed after the element, in bytes (0 for an all-whitespace element,
    /// whose bytes all count as leading).
    pub trailing_ows: usize,
}

/// Removes `OWS` (spaces and tabs) around an element.
#[inline]
pub fn trim_ows(element: &[u8]) -> Trimmed<'_> {
    let start = element
        .iter()
        .position(|&b| !is_http_tab_or_space(b))
        .unwrap_or(element.len());
    let end = element
        .iter()
        .rposition(|&b| !is_http_tab_or_space(b))
        .map_or(start, |i| i + 1);
    Trimmed {
        value: &element[start..end],
        leading_ows: start,
        trailing_ows: element.len() - end,
    }
}

/// Fetch §2.2.2 "get": the values of every line of a header joined with `", "`, or `None` when
/// absent. (The CORS check reads `Access-Control-Allow-Origin` this way, so two lines never
/// equal one origin.)
pub fn combine<'a, I>(lines: I) -> Option<Vec<u8>>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut out: Option<Vec<u8>> = None;
    for line in lines {
        match &mut out {
            None => out = Some(line.to_vec()),
            Some(v) => {
                v.extend_from_slice(b", ");
                v.extend_from_slice(line);
            }
        }
    }
    out
}

/// Why a token list failed to parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError<'a> {
    /// The offending element, trimmed.
    pub element: &'a [u8],
}

/// Fetch §2.2.2 "extract header list values" for a `#token` list: the non-empty elements of all
/// lines in order, or an error naming the first element that is not a token. No lines at all
/// gives `Ok(None)` (the header is absent); empty lines give an empty list.
pub fn parse_token_list<'a, I>(lines: I) -> Result<Option<Vec<&'a [u8]>>, ListError<'a>>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut out: Option<Vec<&'a [u8]>> = None;
    for line in lines {
        let items = out.get_or_insert_with(Vec::new);
        for raw in RawElements::new(line) {
            let element = trim_ows(raw).value;
            if element.is_empty() {
                continue;
            }
            if !is_token(element) {
                return Err(ListError { element });
            }
            items.push(element);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(line: &str) -> Vec<&str> {
        RawElements::new(line.as_bytes())
            .map(|e| std::str::from_utf8(e).unwrap())
            .collect()
    }

    #[test]
    fn raw_elements_split_on_every_comma() {
        assert_eq!(elements("a,b"), ["a", "b"]);
        assert_eq!(elements(""), [""]);
        assert_eq!(elements(" a ,, b,"), [" a ", "", " b", ""]);
    }

    #[test]
    fn trimming_counts_whitespace() {
        let t = trim_ows(b" \tx-a ");
        assert_eq!(t.value, b"x-a");
        assert_eq!((t.leading_ows, t.trailing_ows), (2, 1));
        assert_eq!(trim_ows(b"   ").value, b"");
    }

    #[test]
    fn token_lists_follow_rfc_9110() {
        let parse = |lines: &[&'static str]| {
            parse_token_list(lines.iter().map(|l| l.as_bytes())).map(|o| {
                o.map(|v| {
                    v.iter()
                        .map(|e| std::str::from_utf8(e).unwrap())
                        .collect::<Vec<_>>()
                })
            })
        };
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(parse(&[""]), Ok(Some(vec![])));
        assert_eq!(parse(&["GET, ,PUT"]), Ok(Some(vec!["GET", "PUT"])));
        assert_eq!(parse(&[", X-A, ,", "x-b"]), Ok(Some(vec!["X-A", "x-b"])));
        assert_eq!(
            parse(&["a, bad value"]),
            Err(ListError {
                element: b"bad value"
            })
        );
        assert!(parse(&["a;b"]).is_err());
    }
}

/// Limits for [`scan_tokens`]: with them, the bytes examined are bounded by
/// `(max_items + max_empty) * (max_item_len + 2 * max_ows + 1)`, however long the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimits {
    /// Optional whitespace allowed on each side of an element.
    pub max_ows: usize,
    /// Empty elements (and empty lines) allowed in all.
    pub max_empty: usize,
    /// Non-empty elements allowed in all.
    pub max_items: usize,
    /// Longest element allowed.
    pub max_item_len: usize,
}

/// Why [`scan_tokens`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanError<'a, E> {
    /// More than `max_empty` empty elements (`a,,b`, a trailing comma) or empty lines.
    TooManyEmpty,
    /// More than `max_ows` spaces and tabs on one side of an element.
    TooMuchWhitespace,
    /// More than `max_items` non-empty elements over all the lines.
    TooManyItems,
    /// An element longer than `max_item_len` (its first bytes).
    ItemTooLong(&'a [u8]),
    /// An element with a byte that is neither a token byte, whitespace nor a comma.
    NotAToken(&'a [u8]),
    /// The callback refused an element.
    Refused(E),
}

/// Walks a `#token` list over several field lines without allocating, calling `each` for every
/// non-empty element, and stops at the first element that breaks a limit or that `each` refuses.
/// Never reads past the first offending byte, so hostile input costs no more than the limits.
pub fn scan_tokens<'a, E>(
    lines: impl IntoIterator<Item = &'a [u8]>,
    limits: ListLimits,
    mut each: impl FnMut(&'a [u8]) -> Result<(), E>,
) -> Result<(), ScanError<'a, E>> {
    let (mut empties, mut items) = (0usize, 0usize);
    for line in lines {
        let mut pos = 0;
        loop {
            pos = skip_ows(line, pos, limits.max_ows)?;
            let start = pos;
            // Reads at most one byte past the longest allowed element.
            let end = line
                .len()
                .min(start.saturating_add(limits.max_item_len + 1));
            while pos < end && TCHAR[usize::from(line[pos])] {
                pos += 1;
            }
            if pos - start > limits.max_item_len {
                return Err(ScanError::ItemTooLong(&line[start..pos]));
            }
            let item = &line[start..pos];
            pos = skip_ows(line, pos, limits.max_ows)?;
            if pos < line.len() && line[pos] != b',' {
                return Err(ScanError::NotAToken(&line[start..=pos]));
            }
            if item.is_empty() {
                empties += 1;
                if empties > limits.max_empty {
                    return Err(ScanError::TooManyEmpty);
                }
            } else {
                items += 1;
                if items > limits.max_items {
                    return Err(ScanError::TooManyItems);
                }
                each(item).map_err(ScanError::Refused)?;
            }
            if pos >= line.len() {
                break;
            }
            pos += 1; // the comma
        }
    }
    Ok(())
}

/// [`super::is_tchar`] as a table: one load per byte in the scanner's inner loop.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = super::is_tchar(b as u8);
        b += 1;
    }
    table
};

fn skip_ows<E>(line: &[u8], mut pos: usize, max: usize) -> Result<usize, ScanError<'_, E>> {
    let start = pos;
    while pos < line.len() && is_http_tab_or_space(line[pos]) {
        pos += 1;
        if pos - start > max {
            return Err(ScanError::TooMuchWhitespace);
        }
    }
    Ok(pos)
}

#[cfg(test)]
mod scan_tests {
    use super::*;

    const LIMITS: ListLimits = ListLimits {
        max_ows: 2,
        max_empty: 16,
        max_items: 3,
        max_item_len: 8,
    };

    fn scan(lines: &[&[u8]]) -> Result<Vec<String>, ScanError<'static, ()>> {
        let mut seen = Vec::new();
        let lines: Vec<&'static [u8]> = lines
            .iter()
            .map(|l| &*Box::leak(l.to_vec().into_boxed_slice()))
            .collect();
        scan_tokens(lines, LIMITS, |t| {
            seen.push(String::from_utf8_lossy(t).into_owned());
            Ok(())
        })
        .map(|()| seen)
    }

    #[test]
    fn accepts_what_browsers_and_proxies_send() {
        assert_eq!(scan(&[b"a,b,c"]).unwrap(), ["a", "b", "c"]);
        assert_eq!(scan(&[b" a , b", b"c"]).unwrap(), ["a", "b", "c"]);
        assert_eq!(scan(&[b",,a,,"]).unwrap(), ["a"]);
        assert_eq!(scan(&[b""]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn stops_at_the_first_excess() {
        assert_eq!(scan(&[b"a,b,c,d"]), Err(ScanError::TooManyItems));
        assert_eq!(scan(&[b"a,   b"]), Err(ScanError::TooMuchWhitespace));
        assert_eq!(scan(&[&[b','; 17][..]]), Err(ScanError::TooManyEmpty));
        assert_eq!(
            scan(&[b"abcdefghij"]),
            Err(ScanError::ItemTooLong(b"abcdefghi"))
        );
        assert_eq!(scan(&[b"a b"]), Err(ScanError::NotAToken(b"a b")));
        assert_eq!(scan(&[b"a;b"]), Err(ScanError::NotAToken(b"a;")));
        let empties: Vec<&[u8]> = vec![b""; 17];
        assert_eq!(scan(&empties), Err(ScanError::TooManyEmpty));
    }
}
