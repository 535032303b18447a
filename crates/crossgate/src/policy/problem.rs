//! Problems found in a configuration: typed, each with the field, the value, why, and a fix.

use std::fmt;

use serde::Serialize;

/// How bad a problem is. Errors refuse the configuration; warnings never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A stable name for each kind of problem (`code` in `crossgate lint --json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProblemCode {
    // The document itself.
    Syntax,
    UnknownField,
    WrongType,
    // Origin patterns.
    OriginEmpty,
    OriginNull,
    OriginMissingScheme,
    OriginInvalidScheme,
    OriginOpaqueScheme,
    OriginHasUserinfo,
    OriginHasPath,
    OriginHasQuery,
    OriginInvalidHost,
    OriginMisplacedWildcard,
    OriginWildcardIp,
    OriginInvalidPort,
    OriginTooLong,
    OriginNormalized,
    OriginRedundant,
    /// An edit removes a pattern the policy does not list.
    OriginNotListed,
    WildcardOriginWithCredentials,
    InsecureOriginWithCredentials,
    PublicSuffixWildcardWithCredentials,
    PublicSuffixWildcard,
    NoOriginAllowed,
    PrivateNetworkWithWildcardOrigin,
    // Lists in general.
    WildcardMixed,
    Duplicate,
    EmptyName,
    // Methods.
    MethodInvalid,
    MethodForbidden,
    MethodCase,
    // Request headers.
    HeaderInvalid,
    HeaderForbidden,
    HeaderProhibited,
    HeaderNameTooLong,
    // Response headers.
    ExposeWildcardWithCredentials,
    ExposeForbidden,
    ExposeProhibited,
    ExposeSafelisted,
    // Max age.
    MaxAgeNegative,
    MaxAgeAboveBrowserCap,
    MaxAgeOutOfRange,
    // Anything else a containing document (the gateway's) checks.
    InvalidValue,
}

impl ProblemCode {
    /// Every code, for tools and tests that enumerate them.
    pub const ALL: [ProblemCode; 43] = [
        ProblemCode::Syntax,
        ProblemCode::UnknownField,
        ProblemCode::WrongType,
        ProblemCode::OriginEmpty,
        ProblemCode::OriginNull,
        ProblemCode::OriginMissingScheme,
        ProblemCode::OriginInvalidScheme,
        ProblemCode::OriginOpaqueScheme,
        ProblemCode::OriginHasUserinfo,
        ProblemCode::OriginHasPath,
        ProblemCode::OriginHasQuery,
        ProblemCode::OriginInvalidHost,
        ProblemCode::OriginMisplacedWildcard,
        ProblemCode::OriginWildcardIp,
        ProblemCode::OriginInvalidPort,
        ProblemCode::OriginTooLong,
        ProblemCode::OriginNormalized,
        ProblemCode::OriginRedundant,
        ProblemCode::OriginNotListed,
        ProblemCode::WildcardOriginWithCredentials,
        ProblemCode::InsecureOriginWithCredentials,
        ProblemCode::PublicSuffixWildcardWithCredentials,
        ProblemCode::PublicSuffixWildcard,
        ProblemCode::NoOriginAllowed,
        ProblemCode::PrivateNetworkWithWildcardOrigin,
        ProblemCode::WildcardMixed,
        ProblemCode::Duplicate,
        ProblemCode::EmptyName,
        ProblemCode::MethodInvalid,
        ProblemCode::MethodForbidden,
        ProblemCode::MethodCase,
        ProblemCode::HeaderInvalid,
        ProblemCode::HeaderForbidden,
        ProblemCode::HeaderProhibited,
        ProblemCode::HeaderNameTooLong,
        ProblemCode::ExposeWildcardWithCredentials,
        ProblemCode::ExposeForbidden,
        ProblemCode::ExposeProhibited,
        ProblemCode::ExposeSafelisted,
        ProblemCode::MaxAgeNegative,
        ProblemCode::MaxAgeAboveBrowserCap,
        ProblemCode::MaxAgeOutOfRange,
        ProblemCode::InvalidValue,
    ];

    /// The kebab-case name, as it appears in JSON.
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One problem in a configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub code: ProblemCode,
    /// Where: `allow_origins[2]`, `cors.max_age`, `upstream`.
    pub field: String,
    /// The offending value as written (empty when the problem is an absence).
    pub value: String,
    /// Why it is a problem.
    pub message: String,
    /// What to write instead.
    pub fix: String,
}

impl Problem {
    pub fn error(
        code: ProblemCode,
        field: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Problem {
        Problem {
            severity: Severity::Error,
            code,
            field: field.into(),
            value: value.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub fn warning(
        code: ProblemCode,
        field: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Problem {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(code, field, value, message, fix)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Prefixes the field path, e.g. `cors.` for a policy inside a gateway file.
    pub fn within(mut self, prefix: &str) -> Problem {
        if !prefix.is_empty() {
            self.field = if self.field.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{}", self.field)
            };
        }
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}[{}]: {}", self.code.as_str(), self.field)?;
        if !self.value.is_empty() {
            write!(f, " = {}", self.value)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.fix.is_empty() {
            write!(f, " (fix: {})", self.fix)?;
        }
        Ok(())
    }
}

/// The problems of a configuration that refused to load. `Display` lists every one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidConfig {
    pub(crate) problems: Vec<Problem>,
}

impl InvalidConfig {
    /// Every problem found, errors and warnings alike, in the order of the configuration.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problems that refused the configuration (at least one).
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    /// The problems that alone would not have refused it.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.is_error())
    }

    /// Every problem, by value.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(
            f,
            "invalid CORS configuration ({n} error{})",
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.errors() {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidConfig {}
