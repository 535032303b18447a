//! The severity model: one rule, applied to every class, rating what a response *grants* an
//! attacker, never how unusual the configuration looks.
//!
//! A finding is rated from two things:
//!
//! - **Reach**: who can come to hold an origin the server admits. Anyone at all (reflection,
//!   `null`, a name anyone can register, a host anyone can publish on) starts at high; some
//!   browsers only (special characters that only Firefox and Safari, or only Safari, keep in a
//!   host) at medium or low; whoever controls a subdomain, or the network path to an `http`
//!   origin, at medium (low with HSTS on the target); a program on the visitor's machine or
//!   another port of the host at low; nobody (a spelling browsers never send, a name no one can
//!   register) at info.
//! - **What the read carries**:
//!   - with the user's cookies (`Access-Control-Allow-Credentials: true` and an echoed origin):
//!     the reach's severity; one step lower (from medium or above) when every cookie the target
//!     sets says `SameSite=Lax` or `Strict` and the origin is on another site (cross-site reads
//!     then carry none; subdomains and other ports are the same site, and a cookie without the
//!     attribute rides along in Firefox and Safari); critical when a session given with
//!     `-H Cookie` / `Authorization` proves that high-reach reads carry it;
//!   - without credentials (`*`, or an echoed origin without `-Credentials`): the page reads
//!     only what the visitor's network position gives. On a loopback, private-address or
//!     `.local`/`.internal`/`.lan` target that is what the browser alone reaches: at most
//!     medium. On any other target it is what a request from anywhere already gets: info. A
//!     configuration that grants nothing is never rated above info.
//!
//! The classes that are not a read of their own follow from the same grants:
//!
//! - `preflight-reflection` (any method and header echoed) widens what the origins the server
//!   admits may send: one step below the widest read granted to an attacker's origin, at most
//!   medium (that read is its own finding, and fixing it fixes both); info when only trusted
//!   origins, or `*` on a public target, are admitted.
//! - `missing-vary` grants no origin anything (a reflected origin is its own finding), but a
//!   shared cache that stores the answer for one origin denies it to the others: low when the
//!   response is cacheable, info otherwise.
//! - `private-network-reflection`: medium on a private target, info on a public one (browsers
//!   ask it only of private-network services).

use super::Severity;

/// Who can come to hold an origin the server admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Any web site: the server admits arbitrary, `null`, registrable or third-party origins.
    Anyone,
    /// Special characters in the host that Firefox and Safari send, Chromium not.
    FirefoxAndSafari,
    /// Special characters that only Safari sends.
    SafariOnly,
    /// Whoever controls a subdomain of the target's domain (an XSS or a takeover).
    SubdomainHolder,
    /// Whoever is on the network path to an `http` origin.
    NetworkAttacker {
        /// The target sends `Strict-Transport-Security`, which shuts most of that path.
        hsts: bool,
    },
    /// A program on the visitor's machine (`localhost`).
    LocalProgram,
    /// Whoever runs a service on another port of the target's host (the same site, so cookies
    /// of every `SameSite` ride along).
    OtherPort,
    /// Nobody: a spelling browsers never send, or a name no one can register.
    Nobody,
}

impl Reach {
    /// Origins of this reach are on the target's own site, where `SameSite` cookies go too.
    pub fn same_site(self) -> bool {
        matches!(self, Reach::SubdomainHolder | Reach::OtherPort)
    }

    /// The severity of a credentialed read by an origin of this reach.
    pub fn base(self) -> Severity {
        match self {
            Reach::Anyone => Severity::High,
            Reach::FirefoxAndSafari | Reach::SubdomainHolder => Severity::Medium,
            Reach::NetworkAttacker { hsts } => {
                if hsts {
                    Severity::Low
                } else {
                    Severity::Medium
                }
            }
            Reach::SafariOnly | Reach::LocalProgram | Reach::OtherPort => Severity::Low,
            Reach::Nobody => Severity::Info,
        }
    }
}

/// What is known of the target beyond one response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Loopback, a private address or an intranet name: the browser is the way in.
    pub private_target: bool,
    /// Every cookie the target was seen to set says `SameSite=Lax` or `Strict`.
    pub same_site_cookies: bool,
    /// The audit carried the user's session (`-H Cookie` / `Authorization`).
    pub authenticated: bool,
}

/// The severity of a read by an origin of `reach`, with or without the user's credentials.
pub fn rate_read(reach: Reach, credentialed: bool, exposure: &Exposure) -> Severity {
    let base = reach.base();
    if credentialed {
        let mut s = base;
        if s >= Severity::Medium && exposure.same_site_cookies && !reach.same_site() {
            s = s.down();
        }
        if s == Severity::High && exposure.authenticated {
            s = s.up();
        }
        s
    } else if exposure.private_target {
        base.min(Severity::Medium)
    } else {
        Severity::Info
    }
}

/// The severity of an echoing preflight, from the widest read rating among attackers' origins
/// its kind of preflight admitted (`None`: only trusted origins were admitted).
pub fn rate_preflight_reflection(widest_attacker_grant: Option<Severity>) -> Severity {
    widest_attacker_grant.map_or(Severity::Info, |s| s.down().min(Severity::Medium))
}

/// The severity of a dynamic `Access-Control-Allow-Origin` without `Vary: Origin`.
pub fn rate_missing_vary(cacheable: bool) -> Severity {
    if cacheable {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// The severity of `Access-Control-Allow-Private-Network: true` for any origin.
pub fn rate_private_network(exposure: &Exposure) -> Severity {
    if exposure.private_target {
        Severity::Medium
    } else {
        Severity::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: Exposure = Exposure {
        private_target: false,
        same_site_cookies: false,
        authenticated: false,
    };

    #[test]
    fn a_read_without_credentials_of_a_public_target_grants_nothing() {
        for reach in [Reach::Anyone, Reach::SubdomainHolder, Reach::LocalProgram] {
            assert_eq!(
                rate_read(reach, false, &PUBLIC),
                Severity::Info,
                "{reach:?}"
            );
        }
        let private = Exposure {
            private_target: true,
            ..PUBLIC
        };
        assert_eq!(rate_read(Reach::Anyone, false, &private), Severity::Medium);
        assert_eq!(
            rate_read(Reach::LocalProgram, false, &private),
            Severity::Low
        );
        assert_eq!(rate_read(Reach::Nobody, false, &private), Severity::Info);
    }

    #[test]
    fn credentials_keep_the_reach_and_cookies_move_it() {
        assert_eq!(rate_read(Reach::Anyone, true, &PUBLIC), Severity::High);
        let session = Exposure {
            authenticated: true,
            ..PUBLIC
        };
        assert_eq!(rate_read(Reach::Anyone, true, &session), Severity::Critical);
        assert_eq!(
            rate_read(Reach::SubdomainHolder, true, &session),
            Severity::Medium
        );
        let lax = Exposure {
            same_site_cookies: true,
            ..PUBLIC
        };
        assert_eq!(rate_read(Reach::Anyone, true, &lax), Severity::Medium);
        assert_eq!(rate_read(Reach::LocalProgram, true, &lax), Severity::Low);
        // Subdomains are the same site: Lax and Strict cookies reach them.
        assert_eq!(
            rate_read(Reach::SubdomainHolder, true, &lax),
            Severity::Medium
        );
        assert_eq!(rate_read(Reach::Nobody, true, &PUBLIC), Severity::Info);
    }

    #[test]
    fn the_derived_classes() {
        assert_eq!(rate_preflight_reflection(None), Severity::Info);
        assert_eq!(
            rate_preflight_reflection(Some(Severity::Critical)),
            Severity::Medium
        );
        assert_eq!(
            rate_preflight_reflection(Some(Severity::High)),
            Severity::Medium
        );
        assert_eq!(
            rate_preflight_reflection(Some(Severity::Medium)),
            Severity::Low
        );
        assert_eq!(
            rate_preflight_reflection(Some(Severity::Info)),
            Severity::Info
        );
        assert_eq!(rate_missing_vary(true), Severity::Low);
        assert_eq!(rate_missing_vary(false), Severity::Info);
        assert_eq!(rate_private_network(&PUBLIC), Severity::Info);
    }
}
