//! Matching a template against normalised text: literal pieces compared with any run of
//! whitespace as one space, slots filled in between. Work is bounded: a slot spans at most
//! [`MAX_WORD`] or [`MAX_PHRASE`] bytes and tries at most [`MAX_TRIES`] ends.

use super::template::{Piece, Slot};

const MAX_WORD: usize = 4096;
const MAX_PHRASE: usize = 1024;
const MAX_TRIES: usize = 12;
/// `fetch`, `XMLHttpRequest`, `CSS stylesheet`: a few words.
const MAX_KIND: usize = 40;

/// The values a match filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Captures {
    pub url: Option<String>,
    pub initial_url: Option<String>,
    pub origin: Option<String>,
    pub param: Option<String>,
    pub value: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub target: Option<String>,
}

impl Captures {
    fn set(&mut self, slot: Slot, value: &str) {
        let field = match slot {
            Slot::Url => &mut self.url,
            Slot::InitialUrl => &mut self.initial_url,
            Slot::Origin => &mut self.origin,
            Slot::Param => &mut self.param,
            Slot::Value => &mut self.value,
            Slot::Status => &mut self.status,
            Slot::Kind => &mut self.kind,
            Slot::Target => &mut self.target,
            Slot::List => return,
        };
        // A URL some versions quote (Firefox's wildcard reason) is the URL without them.
        let value = match slot {
            Slot::Url | Slot::InitialUrl | Slot::Origin | Slot::Target => value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(value),
            _ => value,
        };
        if field.is_none() {
            *field = Some(value.to_owned());
        }
    }

    /// Fills what `other` has and this lacks.
    pub(crate) fn merge(&mut self, other: Captures) {
        let pairs = [
            (&mut self.url, other.url),
            (&mut self.initial_url, other.initial_url),
            (&mut self.origin, other.origin),
            (&mut self.param, other.param),
            (&mut self.value, other.value),
            (&mut self.status, other.status),
            (&mut self.kind, other.kind),
            (&mut self.target, other.target),
        ];
        for (mine, theirs) in pairs {
            if mine.is_none() {
                *mine = theirs;
            }
        }
    }
}

/// How far a template matched.
#[derive(Clone, Debug, Default)]
pub(crate) struct Progress {
    /// Where the match stopped.
    pub end: usize,
    /// Every piece matched.
    pub complete: bool,
    /// Characters of literal text matched: how much of the template's own wording was seen.
    pub literal: usize,
    pub captures: Captures,
}

/// Matches `pieces` at `pos` of `text`.
pub(crate) fn run(pieces: &[Piece], text: &str, pos: usize) -> Progress {
    go(pieces, text, pos, Captures::default(), 0)
}

fn go(pieces: &[Piece], text: &str, pos: usize, caps: Captures, literal: usize) -> Progress {
    let Some(first) = pieces.first() else {
        return Progress {
            end: pos,
            complete: true,
            literal,
            captures: caps,
        };
    };
    match first {
        Piece::Lit(lit) => {
            let (n, end, whole) = literal_prefix(text, pos, lit);
            if whole {
                go(&pieces[1..], text, end, caps, literal + n)
            } else {
                Progress {
                    end,
                    complete: false,
                    literal: literal + n,
                    captures: caps,
                }
            }
        }
        Piece::Slot(slot) => {
            let next = match pieces.get(1) {
                Some(Piece::Lit(l)) => Some(l.as_str()),
                _ => None,
            };
            let mut best: Option<Progress> = None;
            for end in slot_ends(*slot, text, pos, next) {
                let mut c = caps.clone();
                c.set(*slot, &text[pos..end]);
                let p = go(&pieces[1..], text, end, c, literal);
                if p.complete {
                    return p;
                }
                if best.as_ref().is_none_or(|b| p.literal > b.literal) {
                    best = Some(p);
                }
            }
            best.unwrap_or(Progress {
                end: pos,
                complete: false,
                literal,
                captures: caps,
            })
        }
    }
}

/// How much of `lit` matches at `pos`: (literal characters matched, where the text stopped,
/// whether all of it matched). A space in `lit` matches any run of whitespace.
pub(crate) fn literal_prefix(text: &str, pos: usize, lit: &str) -> (usize, usize, bool) {
    let bytes = text.as_bytes();
    let mut at = pos;
    let mut n = 0;
    for c in lit.chars() {
        if c == ' ' {
            let start = at;
            while at < bytes.len() && matches!(bytes[at], b' ' | b'\n') {
                at += 1;
            }
            if at == start {
                return (n, at, false);
            }
        } else {
            match text[at..].chars().next() {
                Some(t) if t == c => at += t.len_utf8(),
                _ => return (n, at, false),
            }
        }
        n += 1;
    }
    (n, at, true)
}

/// Where a slot starting at `pos` may end, most likely first.
fn slot_ends(slot: Slot, text: &str, pos: usize, next: Option<&str>) -> Vec<usize> {
    let rest = &text[pos..];
    // Only as far as a slot may reach: the line's end is looked for within it.
    let reach = match slot {
        Slot::Status => "(null)".len(),
        Slot::Kind => MAX_KIND,
        s if s.is_word() => MAX_WORD,
        _ => MAX_PHRASE,
    };
    let window = &rest[..floor(rest, reach)];
    let line = window.find('\n').unwrap_or(window.len());
    if slot.is_word() {
        let run = rest[..line].find(' ').unwrap_or(line);
        let mut ends: Vec<usize> = (1..=run)
            .rev()
            .filter(|&e| rest.is_char_boundary(e))
            .filter(|&e| valid(slot, &rest[..e]))
            .filter(|&e| match next {
                Some(lit) => fits_next(text, pos + e, lit),
                None => true,
            })
            .take(MAX_TRIES)
            .map(|e| pos + e)
            .collect();
        if next.is_none() {
            ends.truncate(1);
        }
        ends
    } else {
        let span = line;
        match next {
            Some(lit) => (0..=span)
                .filter(|&e| rest.is_char_boundary(e))
                .filter(|&e| valid(slot, &rest[..e]))
                .filter(|&e| fits_next(text, pos + e, lit))
                .take(MAX_TRIES)
                .map(|e| pos + e)
                .collect(),
            None => vec![pos + trim_location(&rest[..span])],
        }
    }
}

/// Whether the literal after a slot matches at `at`: whole, or as far as the text goes when the
/// text is cut there (the end of the input, or of a line).
fn fits_next(text: &str, at: usize, lit: &str) -> bool {
    let (n, stop, whole) = literal_prefix(text, at, lit);
    whole || (n > 0 && cut(text, stop))
}

/// Whether the text ends at `at` (nothing but spaces before the end, or the end of the line):
/// a match that stops there was cut by the paste; one that stops where the text goes on with
/// other words is not a reading of it.
pub(crate) fn cut(text: &str, at: usize) -> bool {
    let rest = text[at..].trim_start_matches(' ');
    rest.is_empty() || rest.starts_with('\n')
}

fn floor(s: &str, max: usize) -> usize {
    let mut n = max.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

fn valid(slot: Slot, value: &str) -> bool {
    match slot {
        Slot::Status => value == "(null)" || value.bytes().all(|b| b.is_ascii_digit()),
        // `fetch`, `XMLHttpRequest`, `CSS stylesheet`, `font`, ...
        Slot::Kind => {
            !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphabetic() || b == b' ')
        }
        _ => true,
    }
}

/// The length of a value at the end of a line without the source location Safari appends to
/// its network lines (` (items, line 0)`).
fn trim_location(value: &str) -> usize {
    let trimmed = value.trim_end();
    if let Some(open) = trimmed.rfind(" (")
        && trimmed.ends_with(')')
        && trimmed[open..].contains(", line ")
    {
        return open;
    }
    trimmed.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Piece {
        Piece::Lit(s.to_owned())
    }

    #[test]
    fn words_give_back_what_the_next_literal_needs() {
        let pieces = [
            lit("Fetch API cannot load "),
            Piece::Slot(Slot::Url),
            lit("."),
        ];
        let p = run(&pieces, "Fetch API cannot load http://a.test/x.json.", 0);
        assert!(p.complete);
        assert_eq!(p.captures.url.as_deref(), Some("http://a.test/x.json"));
    }

    #[test]
    fn phrases_end_at_the_first_fit() {
        let pieces = [
            lit("contains multiple values '"),
            Piece::Slot(Slot::Param),
            lit("', but only one is allowed."),
        ];
        let p = run(
            &pieces,
            "contains multiple values 'https://a, https://b', but only one is allowed.",
            0,
        );
        assert!(p.complete);
        assert_eq!(p.captures.param.as_deref(), Some("https://a, https://b"));
    }

    #[test]
    fn a_cut_text_reports_how_far_it_got() {
        let pieces = [lit("No 'Access-Control-Allow-Origin' header is present")];
        let p = run(&pieces, "No 'Access-Control-Allow-Orig", 0);
        assert!(!p.complete);
        assert_eq!(p.literal, 29);
    }

    #[test]
    fn whitespace_runs_and_line_breaks_match_one_space() {
        assert!(literal_prefix("a \n b", 0, "a b").2);
        assert!(!literal_prefix("ab", 0, "a b").2);
    }

    #[test]
    fn statuses_are_numbers_or_null() {
        let pieces = [lit("Status code: "), Piece::Slot(Slot::Status), lit(".")];
        assert!(run(&pieces, "Status code: 401.", 0).complete);
        assert!(run(&pieces, "Status code: (null).", 0).complete);
        assert!(!run(&pieces, "Status code: abc.", 0).complete);
    }
}
