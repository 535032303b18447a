//! Fetch §4.10 "CORS check": may the response be shared with the request's origin? Each
//! browser reports the same failures under its own names and order.

use super::error::ErrorCode;
use super::profile::Profile;
use crate::browser::Browser;
use crate::fetch::list::combine;

/// A response header list, as pairs in order (a name may repeat).
pub type Headers = [(String, Vec<u8>)];

/// The lines of `name` (case-insensitive), in order.
pub fn lines<'a>(headers: &'a Headers, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Fetch §2.2.2 "get": the lines combined with `", "`.
pub fn get(headers: &Headers, name: &str) -> Option<Vec<u8>> {
    combine(lines(headers, name))
}

/// A failed check: the error (without its stage) and the failed parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    /// The failure as the profile's browser names it, always one of the six base allow-origin
    /// and allow-credentials codes; the preflight's judgement turns it into its `Preflight*`
    /// twin with [`ErrorCode::on_preflight`].
    pub code: ErrorCode,
    /// The value that failed: the `Access-Control-Allow-Origin` received (`*` for a refused
    /// wildcard), or the `Access-Control-Allow-Credentials` received (empty when missing).
    /// `None` when `Access-Control-Allow-Origin` is missing, and for Firefox's two lines.
    pub parameter: Option<String>,
}

fn fail(code: ErrorCode, parameter: Option<&[u8]>) -> Result<(), CheckFailure> {
    Err(CheckFailure {
        code,
        parameter: parameter.map(|p| String::from_utf8_lossy(p).into_owned()),
    })
}

/// Runs the CORS check for a request whose serialized origin is `origin` (possibly `null`),
/// with credentials mode `include` or not, classifying a failure as `profile`'s browser does.
pub fn cors_check(
    profile: &Profile,
    origin: &str,
    include: bool,
    headers: &Headers,
) -> Result<(), CheckFailure> {
    match profile.browser {
        Some(Browser::Firefox) => firefox(origin, include, headers),
        Some(Browser::Webkit) => webkit(origin, include, headers),
        // Chromium's `CheckAccess` order, which also names the standard's failures.
        Some(Browser::Chromium) | None => chromium(origin, include, headers),
    }
}

fn credentials(include: bool, headers: &Headers) -> Result<(), CheckFailure> {
    // Fetch §4.10 steps 5-7: with credentials, `Access-Control-Allow-Credentials` must be
    // exactly `true`.
    if include {
        let value = get(headers, "access-control-allow-credentials");
        if value.as_deref() != Some(b"true") {
            return fail(
                ErrorCode::InvalidAllowCredentials,
                Some(value.as_deref().unwrap_or(b"")),
            );
        }
    }
    Ok(())
}

fn chromium(origin: &str, include: bool, headers: &Headers) -> Result<(), CheckFailure> {
    let acao = get(headers, "access-control-allow-origin");
    match acao.as_deref() {
        // Fetch §4.10 step 3: `*` without credentials.
        Some(b"*") if !include => return Ok(()),
        Some(b"*") => return fail(ErrorCode::WildcardOriginNotAllowed, Some(b"*")),
        None => return fail(ErrorCode::MissingAllowOriginHeader, None),
        // Step 4: byte-for-byte equal to the serialized request origin.
        Some(v) if v == origin.as_bytes() => {}
        Some(v) if v.contains(&b' ') || v.contains(&b',') => {
            return fail(ErrorCode::MultipleAllowOriginValues, Some(v));
        }
        Some(v) if v == b"null" => return fail(ErrorCode::AllowOriginMismatch, Some(v)),
        Some(v) if std::str::from_utf8(v).map_or(true, |s| url::Url::parse(s).is_err()) => {
            return fail(ErrorCode::InvalidAllowOriginValue, Some(v));
        }
        Some(v) => return fail(ErrorCode::AllowOriginMismatch, Some(v)),
    }
    credentials(include, headers)
}

fn firefox(origin: &str, include: bool, headers: &Headers) -> Result<(), CheckFailure> {
    // `nsCORSListenerProxy::CheckRequestApproved`: header lines are counted, not combined.
    let mut acao = lines(headers, "access-control-allow-origin");
    let value = match (acao.next(), acao.next()) {
        (Some(_), Some(_)) => return fail(ErrorCode::MultipleAllowOriginValues, None),
        (None, _) => return fail(ErrorCode::MissingAllowOriginHeader, None),
        (Some(v), None) => v,
    };
    if include && value == b"*" {
        return fail(ErrorCode::WildcardOriginNotAllowed, Some(value));
    }
    if (include || value != b"*") && value != origin.as_bytes() {
        return fail(ErrorCode::AllowOriginMismatch, Some(value));
    }
    credentials(include, headers)
}

fn webkit(origin: &str, include: bool, headers: &Headers) -> Result<(), CheckFailure> {
    // `passesAccessControlCheck` in WebKit's CrossOriginAccessControl.cpp.
    let acao = get(headers, "access-control-allow-origin");
    let value = acao.as_deref().unwrap_or(b"");
    if value == b"*" && !include {
        return Ok(());
    }
    if value != origin.as_bytes() {
        if value == b"*" {
            return fail(ErrorCode::WildcardOriginNotAllowed, Some(value));
        }
        if value.contains(&b',') {
            return fail(ErrorCode::MultipleAllowOriginValues, Some(value));
        }
        return match acao {
            None => fail(ErrorCode::MissingAllowOriginHeader, None),
            Some(v) => fail(ErrorCode::AllowOriginMismatch, Some(&v)),
        };
    }
    credentials(include, headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: &str = "https://rabbit.invalid";

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn the_standards_truth_table() {
        // Fetch §4.10's table, request from https://rabbit.invalid.
        let spec = Profile::spec();
        let acao = "Access-Control-Allow-Origin";
        let acac = "Access-Control-Allow-Credentials";
        type Case<'a> = (bool, &'a [(&'a str, &'a str)], bool);
        let cases: [Case; 7] = [
            (false, &[(acao, "*")], true),
            (false, &[(acao, "*"), (acac, "true")], true),
            (false, &[(acao, "https://rabbit.invalid/")], false),
            (false, &[(acao, O)], true),
            (true, &[(acao, "*"), (acac, "true")], false),
            (true, &[(acao, O), (acac, "true")], true),
            (true, &[(acao, O), (acac, "True")], false),
        ];
        for (include, headers, shared) in cases {
            for profile in [
                spec,
                Profile::chromium(),
                Profile::firefox(),
                Profile::webkit(),
            ] {
                assert_eq!(
                    cors_check(&profile, O, include, &h(headers)).is_ok(),
                    shared,
                    "{:?} include={include} {headers:?}",
                    profile.browser
                );
            }
        }
    }

    #[test]
    fn each_browser_names_the_failure_its_way() {
        let two_lines = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-origin", O),
        ]);
        let code =
            |p: Profile, hs: &[(String, Vec<u8>)]| cors_check(&p, O, false, hs).unwrap_err().code;
        assert_eq!(
            code(Profile::chromium(), &two_lines),
            ErrorCode::MultipleAllowOriginValues
        );
        assert_eq!(
            code(Profile::firefox(), &two_lines),
            ErrorCode::MultipleAllowOriginValues
        );
        let list = h(&[("access-control-allow-origin", "https://a, https://b")]);
        assert_eq!(
            code(Profile::chromium(), &list),
            ErrorCode::MultipleAllowOriginValues
        );
        assert_eq!(
            code(Profile::firefox(), &list),
            ErrorCode::AllowOriginMismatch
        );
        assert_eq!(
            code(Profile::webkit(), &list),
            ErrorCode::MultipleAllowOriginValues
        );
        let invalid = h(&[("access-control-allow-origin", "rabbit")]);
        assert_eq!(
            code(Profile::chromium(), &invalid),
            ErrorCode::InvalidAllowOriginValue
        );
        assert_eq!(
            code(Profile::firefox(), &invalid),
            ErrorCode::AllowOriginMismatch
        );
        let null = h(&[("access-control-allow-origin", "null")]);
        assert_eq!(
            code(Profile::chromium(), &null),
            ErrorCode::AllowOriginMismatch
        );
        assert!(cors_check(&Profile::chromium(), "null", false, &null).is_ok());
        assert_eq!(
            code(Profile::webkit(), &[]),
            ErrorCode::MissingAllowOriginHeader
        );
        let missing_creds = cors_check(
            &Profile::chromium(),
            O,
            true,
            &h(&[("access-control-allow-origin", O)]),
        );
        assert_eq!(
            missing_creds,
            Err(CheckFailure {
                code: ErrorCode::InvalidAllowCredentials,
                parameter: Some(String::new())
            })
        );
    }
}
