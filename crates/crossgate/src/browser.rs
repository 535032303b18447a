//! The browsers crossgate knows, and the limits where they differ from each other.

use std::fmt;

/// A browser engine whose behaviour crossgate models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Browser {
    /// Chrome, Edge, Opera and the other browsers built on Chromium's network service.
    Chromium,
    /// Firefox (Gecko's `nsCORSListenerProxy`).
    Firefox,
    /// Safari, and the browsers on iOS that use WebKit.
    Webkit,
}

impl Browser {
    /// Every engine, in `Ord` order: the order in which reports compare them.
    pub const ALL: [Browser; 3] = [Browser::Chromium, Browser::Firefox, Browser::Webkit];

    /// The longest time, in seconds, the browser keeps a preflight result, whatever
    /// `Access-Control-Max-Age` says (Chromium `kMaxPreflightCacheAge`, Firefox
    /// `nsCORSListenerProxy`, WebKit `CrossOriginPreflightResultCache`).
    pub const fn max_age_cap(self) -> u64 {
        match self {
            Browser::Chromium => 7200,
            Browser::Firefox => 86400,
            Browser::Webkit => 600,
        }
    }

    /// The lower-case name, as in JSON and on the command line.
    pub const fn id(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
            Browser::Webkit => "webkit",
        }
    }

    /// The engine's name as people write it (`WebKit`), for messages; also its `Display`.
    pub const fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "Chromium",
            Browser::Firefox => "Firefox",
            Browser::Webkit => "WebKit",
        }
    }
}

impl fmt::Display for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
