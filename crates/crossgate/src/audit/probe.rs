//! The probe origins (generators G0-G16 of `misconfigurations.md` §3), computed from the target.

use serde::Serialize;
use url::Host;

use super::Target;

/// Which generator made a probe, and so which flawed check it tests.
///
/// [`judge`](super::judge) names the [`Class`](super::Class) from it when the server admits
/// the probe's origin; [`probes`] shows the origins each makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Generator {
    /// G0: the target's own origin (context).
    Baseline,
    /// G1: a random foreign origin.
    Foreign,
    /// G2: `null`.
    Null,
    /// G3: the target's origin followed by more labels.
    PostDomain,
    /// G4: letters in front of the registrable domain.
    PreDomain,
    /// G5: a truncated name.
    Substring,
    /// G6: one dot replaced by a letter.
    UnescapedDot,
    /// G7: a subdomain.
    Subdomain,
    /// G8: the same host, or a subdomain, over http.
    Insecure,
    /// G9: a host where anyone can publish.
    ThirdParty,
    /// G10, G11: special characters after the host.
    SpecialCharacter,
    /// G12: localhost.
    Localhost,
    /// G13: another port.
    Port,
    /// G14: a non-canonical spelling.
    NonCanonical,
    /// G15: a preflight asking for private-network access.
    PrivateNetwork,
}

/// One probe origin, made by [`probes`] for a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// Which generator made it: the flawed check it tests.
    pub generator: Generator,
    /// The `Origin` header value to send: a serialised origin, or `null`. Deliberately not
    /// one for [`Generator::NonCanonical`] (`HTTPS://API.EXAMPLE.COM`, a trailing `/`), and
    /// with a character URL parsers may refuse in the host for
    /// [`Generator::SpecialCharacter`].
    pub origin: String,
    /// For special characters: the character, which decides which browsers send it.
    pub note: Option<String>,
}

/// Hosts where anyone can publish pages (CORScanner's list, and shared hosting suffixes).
const THIRD_PARTIES: [&str; 6] = [
    "https://whatever.github.io",
    "http://jsbin.com",
    "https://codepen.io",
    "https://jsfiddle.net",
    "http://www.webdevout.net",
    "https://repl.it",
];

/// Special characters some browsers keep in a host (CORScanner's and nuclei's sets).
pub(crate) const SPECIAL_CHARACTERS: [&str; 22] = [
    "_", "-", "\"", "{", "}", "+", "^", "%60", "!", "~", "`", ";", "|", "&", "'", "(", ")", "*",
    ",", "$", "=", "%0b",
];

/// Every probe for `target`. `label` is a random label; `base` a domain the auditor controls
/// (reserved by default), under which attacker-looking names are made.
///
/// `label` should be new for each run, lowercase letters and digits (a DNS label), so that no
/// probe origin is on a real allowlist by chance; `crossgate audit` makes one like `cgx3k9qa`.
/// `base` is `crossgate-probe.example` unless `--probe-domain` says otherwise. The baseline
/// (the target's own origin) comes first; each origin appears once; a target gives under a
/// hundred probes.
///
/// ```
/// use crossgate::audit::{Generator, Target, parse_target, probes};
///
/// let url = parse_target("https://api.example.com/v1/items").unwrap();
/// let target = Target::new(&url, None).unwrap();
/// let all = probes(&target, "k3x9q", "crossgate-probe.example");
///
/// assert_eq!(all[0].generator, Generator::Baseline);
/// assert_eq!(all[0].origin, "https://api.example.com");
/// // Reflection: a foreign origin no allowlist names.
/// assert!(all.iter().any(|p| p.generator == Generator::Foreign
///     && p.origin == "https://k3x9q.crossgate-probe.example"));
/// // `null`, which a sandboxed iframe sends.
/// assert!(all.iter().any(|p| p.generator == Generator::Null && p.origin == "null"));
/// // A check that the origin starts with the trusted one.
/// assert!(all.iter().any(|p| p.generator == Generator::PostDomain
///     && p.origin == "https://api.example.com.k3x9q.crossgate-probe.example"));
/// // A regex whose dot is not escaped.
/// assert!(all.iter().any(|p| p.origin == "https://apiaexample.com"));
/// // Special characters carry a note: which one, and so which browsers send it.
/// assert!(all.iter().any(|p| p.generator == Generator::SpecialCharacter
///     && p.note.as_deref() == Some("_")));
/// ```
pub fn probes(target: &Target, label: &str, base: &str) -> Vec<Probe> {
    let scheme = &target.scheme;
    let authority = target.authority();
    let own = &target.origin;
    // A made-up host keeps the target's port: a server that compares the host and the port
    // separately (or the whole origin by prefix) is only passed by a probe on the same port.
    let host_port = |h: &str| match target.port {
        Some(p) => format!("{h}:{p}"),
        None => h.to_owned(),
    };
    let mut out: Vec<Probe> = Vec::new();
    let mut add = |generator, origin: String, note: Option<String>| {
        if !out.iter().any(|p: &Probe| p.origin == origin) {
            out.push(Probe {
                generator,
                origin,
                note,
            });
        }
    };
    add(Generator::Baseline, own.clone(), None);
    add(
        Generator::Foreign,
        format!("{scheme}://{label}.{base}"),
        None,
    );
    add(Generator::Foreign, format!("https://{label}.com"), None);
    add(Generator::Null, "null".to_owned(), None);
    // Names that start with the target's host: a domain or an IPv4 address can be followed by
    // more labels (`127.0.0.1.x.example` is a domain); an IPv6 literal cannot.
    // A fully qualified name's final dot is no place for more labels.
    let prefixable = match &target.host {
        Host::Domain(d) => Some(d.trim_end_matches('.').to_owned()),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(_) => None,
    };
    if let Some(host) = &prefixable {
        add(
            Generator::PostDomain,
            format!(
                "{scheme}://{}",
                host_port(&format!("{host}.{label}.{base}"))
            ),
            None,
        );
        for c in SPECIAL_CHARACTERS {
            add(
                Generator::SpecialCharacter,
                format!(
                    "{scheme}://{}",
                    host_port(&format!("{host}{c}.{label}.{base}"))
                ),
                Some(c.to_owned()),
            );
            add(
                Generator::SpecialCharacter,
                format!(
                    "{scheme}://{}",
                    host_port(&format!("{host}.{c}.{label}.{base}"))
                ),
                Some(c.to_owned()),
            );
        }
    }
    let domain = match &target.host {
        Host::Domain(d) => Some(d.trim_end_matches('.').to_owned()),
        _ => None,
    };
    if let Some(domain) = &domain {
        let registrable = target.registrable.clone().unwrap_or_else(|| domain.clone());
        if registrable != *domain {
            add(
                Generator::PostDomain,
                format!(
                    "{scheme}://{}",
                    host_port(&format!("{registrable}.{label}.{base}"))
                ),
                None,
            );
        }
        add(
            Generator::PreDomain,
            format!("{scheme}://{}", host_port(&format!("{label}{registrable}"))),
            None,
        );
        if registrable != *domain {
            add(
                Generator::PreDomain,
                format!("{scheme}://{}", host_port(&format!("{label}{domain}"))),
                None,
            );
        }
        if registrable.len() > 3 {
            add(
                Generator::Substring,
                format!("{scheme}://{}", host_port(&registrable[1..])),
                None,
            );
            add(
                Generator::Substring,
                format!(
                    "{scheme}://{}",
                    host_port(&registrable[..registrable.len() - 1])
                ),
                None,
            );
        }
        for (i, _) in domain.match_indices('.') {
            let mut bytes = domain.clone().into_bytes();
            bytes[i] = b'a';
            let host = String::from_utf8(bytes).unwrap_or_default();
            add(
                Generator::UnescapedDot,
                format!("{scheme}://{}", host_port(&host)),
                None,
            );
        }
        // Both with and without the port: a check of the whole origin's end (`.example.com`)
        // fails on a port, one of the host and the port apart needs it.
        add(
            Generator::Subdomain,
            format!("{scheme}://{label}.{registrable}"),
            None,
        );
        add(
            Generator::Subdomain,
            format!(
                "{scheme}://{}",
                host_port(&format!("{label}.{registrable}"))
            ),
            None,
        );
        add(
            Generator::Subdomain,
            format!("{scheme}://{label}.{}", host_port(domain)),
            None,
        );
        add(
            Generator::Insecure,
            format!("http://{label}.{registrable}"),
            None,
        );
        add(
            Generator::Insecure,
            format!("http://{}", host_port(&format!("{label}.{registrable}"))),
            None,
        );
    }
    add(Generator::Insecure, format!("http://{authority}"), None);
    add(
        Generator::NonCanonical,
        format!(
            "{}://{}",
            scheme.to_ascii_uppercase(),
            authority.to_ascii_uppercase()
        ),
        None,
    );
    for t in THIRD_PARTIES {
        add(Generator::ThirdParty, t.to_owned(), None);
    }
    add(
        Generator::Localhost,
        format!("http://localhost.{label}.{base}"),
        None,
    );
    add(
        Generator::Localhost,
        format!("https://localhost.{label}.{base}"),
        None,
    );
    let other_port = if target.port == Some(1) { 2 } else { 1 };
    add(
        Generator::Port,
        format!("{scheme}://{}:{other_port}", target.host),
        None,
    );
    // A port that extends the target's (4000 -> 40001): what a check that the origin starts
    // with the whole own origin lets through.
    if let Some(extended) = target
        .port
        .map(|p| u32::from(p) * 10 + 1)
        .filter(|p| *p <= u32::from(u16::MAX))
    {
        add(
            Generator::Port,
            format!("{scheme}://{}:{extended}", target.host),
            None,
        );
    }
    // After the port probes: on a target that is itself `http://localhost`, this is another
    // port of its own host, and the probe is the port generator's.
    add(Generator::Localhost, "http://localhost:1".to_owned(), None);
    if target.port.is_none() {
        let default = if scheme == "https" { 443 } else { 80 };
        add(Generator::NonCanonical, format!("{own}:{default}"), None);
    }
    add(Generator::NonCanonical, format!("{own}/"), None);
    // The private-network preflight goes with a foreign origin.
    add(
        Generator::PrivateNetwork,
        format!("https://{label}-pna.{base}"),
        None,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_for_a_subdomain_target() {
        let target =
            Target::new(&"https://api.example.com:8443/v1".parse().unwrap(), None).unwrap();
        let p = probes(&target, "k3x9q", "probe.example");
        let origins: Vec<&str> = p.iter().map(|p| p.origin.as_str()).collect();
        for want in [
            "https://api.example.com:8443",
            "null",
            "https://api.example.com.k3x9q.probe.example:8443",
            "https://example.com.k3x9q.probe.example:8443",
            "https://k3x9qexample.com:8443",
            "https://xample.com:8443",
            "https://example.co:8443",
            "https://apiaexample.com:8443",
            "https://api.exampleacom:8443",
            "https://k3x9q.example.com",
            "http://api.example.com:8443",
            "https://api.example.com_.k3x9q.probe.example:8443",
            "https://api.example.com.$.k3x9q.probe.example:8443",
            "https://codepen.io",
            "http://localhost:1",
            "https://api.example.com:1",
            "HTTPS://API.EXAMPLE.COM:8443",
        ] {
            assert!(origins.contains(&want), "{want} missing from {origins:#?}");
        }
        let unique: std::collections::HashSet<_> = origins.iter().collect();
        assert_eq!(unique.len(), origins.len(), "no duplicates");
        assert!(origins.len() < 100, "bounded: {}", origins.len());
    }

    #[test]
    fn a_host_header_names_the_audited_host() {
        let target = Target::new(
            &"http://127.0.0.1:4000/x".parse().unwrap(),
            Some("api.example.com"),
        )
        .unwrap();
        assert_eq!(target.origin, "http://api.example.com");
        assert_eq!(target.registrable.as_deref(), Some("example.com"));
        let t2 = Target::new(
            &"http://127.0.0.1:4000/x".parse().unwrap(),
            Some("api.example.com:8080"),
        )
        .unwrap();
        assert_eq!(t2.origin, "http://api.example.com:8080");
    }

    /// The host and the port of a probe origin, split as a server would split them.
    fn host_and_port(origin: &str) -> (&str, Option<&str>) {
        let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
        match rest.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, Some(p)),
            _ => (rest, None),
        }
    }

    /// Every generator, on targets at default and other ports, named by a domain, an IPv4 or
    /// IPv6 address or `localhost`: what is meant to be an origin is one (it serialises to
    /// itself), and the made-up hosts built from the target's keep the target's port after the
    /// whole host, never inside it.
    #[test]
    fn every_probe_is_an_origin_with_the_port_after_the_host() {
        for (url, host) in [
            ("https://api.example.com/v1", "api.example.com"),
            ("https://api.example.com:8443/v1", "api.example.com"),
            ("http://api.example.com:80/", "api.example.com"),
            ("http://127.0.0.1/x", "127.0.0.1"),
            ("http://127.0.0.1:4000/x", "127.0.0.1"),
            ("http://[::1]/x", "[::1]"),
            ("https://[::1]:8443/x", "[::1]"),
            ("http://localhost/x", "localhost"),
            ("http://localhost:3000/x", "localhost"),
            ("https://api.example.com.:8443/x", "api.example.com"),
        ] {
            let target = Target::new(&url.parse().unwrap(), None).unwrap();
            let port = target.port.map(|p| p.to_string());
            let all = probes(&target, "k3x9q", "probe.example");
            let mut post_domain = 0;
            for p in &all {
                let origin = p.origin.as_str();
                match p.generator {
                    Generator::Null => assert_eq!(origin, "null"),
                    // Deliberately not canonical, or with characters some browsers keep.
                    Generator::NonCanonical | Generator::SpecialCharacter => {}
                    _ => {
                        let parsed: url::Url = origin
                            .parse()
                            .unwrap_or_else(|e| panic!("{url}: `{origin}` ({e})"));
                        assert_eq!(
                            crate::origin::Origin::of_url(&parsed).serialize(),
                            origin,
                            "{url}: {:?} is not a serialised origin",
                            p.generator
                        );
                    }
                }
                if matches!(
                    p.generator,
                    Generator::PostDomain | Generator::SpecialCharacter
                ) {
                    let (h, pt) = host_and_port(origin);
                    assert_eq!(pt, port.as_deref(), "{url}: `{origin}` keeps the port");
                    assert!(h.ends_with(".k3x9q.probe.example"), "{url}: `{origin}`");
                    if p.generator == Generator::PostDomain {
                        post_domain += 1;
                        if let Some(rest) = h.strip_prefix(host) {
                            assert!(rest.starts_with('.'), "{url}: `{origin}`");
                        }
                    }
                }
            }
            // A host that more labels can follow gets the prefix probe; an IPv6 literal cannot.
            assert_eq!(post_domain > 0, !host.starts_with('['), "{url}");
            assert!(
                all.iter().any(|p| p.generator == Generator::PostDomain
                    && host_and_port(&p.origin).0.starts_with(&format!("{host}.")))
                    || host.starts_with('['),
                "{url}: no probe starts with the whole host"
            );
        }
    }
}
