//! The CORS header names and header maps of one `http` crate version, written once.
//!
//! The tower layer speaks `http` 1 and actix-web 4 speaks `http` 0.2: two `HeaderName` types with
//! the same constants, and two header maps with nearly the same methods. [`cors_http_glue!`]
//! expands the one list of names (and the one [`ResponseHeaders`](crate::policy::ResponseHeaders)
//! implementation) for the version it is given, so the two cannot drift apart.

/// Expands, for the `http` crate whose `header` module is given (`http::header`,
/// `actix_web::http::header`):
///
/// - `request_header_name` and `response_header_name`: each CORS header as that crate's
///   `HeaderName`, a constant (no parsing per request);
/// - `impl ResponseHeaders for $map`, with any method bodies given after the map's type (the
///   `http` 1 map overrides `replace` and `append_unless` with its entry API).
macro_rules! cors_http_glue {
    ($($header:ident)::+, $map:ty $(, { $($extra:tt)* })?) => {
        fn request_header_name(
            name: $crate::policy::CorsRequestHeader,
        ) -> $($header)::+::HeaderName {
            use $($header)::+ as h;
            use $crate::policy::CorsRequestHeader as N;
            match name {
                N::Origin => h::ORIGIN,
                N::AccessControlRequestMethod => h::ACCESS_CONTROL_REQUEST_METHOD,
                N::AccessControlRequestHeaders => h::ACCESS_CONTROL_REQUEST_HEADERS,
                // Private Network Access has no constant in either crate.
                N::AccessControlRequestPrivateNetwork => h::HeaderName::from_static(
                    N::AccessControlRequestPrivateNetwork.as_str(),
                ),
            }
        }

        fn response_header_name(
            name: $crate::policy::CorsResponseHeader,
        ) -> $($header)::+::HeaderName {
            use $($header)::+ as h;
            use $crate::policy::CorsResponseHeader as N;
            match name {
                N::AllowOrigin => h::ACCESS_CONTROL_ALLOW_ORIGIN,
                N::AllowCredentials => h::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                N::AllowMethods => h::ACCESS_CONTROL_ALLOW_METHODS,
                N::AllowHeaders => h::ACCESS_CONTROL_ALLOW_HEADERS,
                N::ExposeHeaders => h::ACCESS_CONTROL_EXPOSE_HEADERS,
                N::MaxAge => h::ACCESS_CONTROL_MAX_AGE,
                N::AllowPrivateNetwork => {
                    h::HeaderName::from_static(N::AllowPrivateNetwork.as_str())
                }
                N::Vary => h::VARY,
            }
        }

        impl $crate::policy::ResponseHeaders for $map {
            type Value = $($header)::+::HeaderValue;

            fn insert(&mut self, name: $crate::policy::CorsResponseHeader, value: Self::Value) {
                <$map>::insert(self, response_header_name(name), value);
            }

            fn append(&mut self, name: $crate::policy::CorsResponseHeader, value: Self::Value) {
                <$map>::append(self, response_header_name(name), value);
            }

            fn remove(&mut self, name: $crate::policy::CorsResponseHeader) {
                <$map>::remove(self, response_header_name(name));
            }

            fn lines(
                &self,
                name: $crate::policy::CorsResponseHeader,
            ) -> impl Iterator<Item = &[u8]> {
                self.get_all(response_header_name(name))
                    .into_iter()
                    .map(<$($header)::+::HeaderValue>::as_bytes)
            }

            fn has_access_control(&self) -> bool {
                self.keys()
                    .any(|k| k.as_str().starts_with("access-control-"))
            }

            $($($extra)*)?
        }
    };
}

pub(crate) use cors_http_glue;
