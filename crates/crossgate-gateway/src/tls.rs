//! TLS termination with rustls: the certificate chain and key read from PEM files when a
//! configuration is loaded (so a reload picks up renewed files), HTTP/2 and HTTP/1.1 offered by
//! ALPN.

use std::sync::Arc;

use crossgate::policy::Problem;
use crossgate::policy::ProblemCode;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;

use crate::config::TlsFiles;

/// Reads the files and builds the acceptor; every problem (unreadable file, no certificate, no
/// key, a key that does not match the certificate) under `tls.cert` or `tls.key`.
pub(crate) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, Vec<Problem>> {
    let mut problems = Vec::new();
    let shown = |p: &std::path::Path| p.display().to_string();
    let certs: Vec<CertificateDer<'static>> = match std::fs::read(&files.cert) {
        Ok(pem) => {
            let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
            match certs {
                Ok(c) if !c.is_empty() => c,
                Ok(_) => {
                    problems.push(problem(
                        "tls.cert",
                        shown(&files.cert),
                        "the file holds no PEM certificate".to_owned(),
                    ));
                    Vec::new()
                }
                Err(e) => {
                    problems.push(problem(
                        "tls.cert",
                        shown(&files.cert),
                        format!("not a PEM certificate chain: {e}"),
                    ));
                    Vec::new()
                }
            }
        }
        Err(e) => {
            problems.push(problem(
                "tls.cert",
                shown(&files.cert),
                format!("cannot read the file: {e}"),
            ));
            Vec::new()
        }
    };
    let key = match std::fs::read(&files.key) {
        Ok(pem) => match PrivateKeyDer::from_pem_slice(&pem) {
            Ok(key) => Some(key),
            Err(e) => {
                problems.push(problem(
                    "tls.key",
                    shown(&files.key),
                    format!("no PEM private key (PKCS #8, PKCS #1 or SEC1): {e}"),
                ));
                None
            }
        },
        Err(e) => {
            problems.push(problem(
                "tls.key",
                shown(&files.key),
                format!("cannot read the file: {e}"),
            ));
            None
        }
    };
    let Some(key) = key.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| vec![problem("tls", String::new(), e.to_string())])?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            vec![problem(
                "tls.key",
                shown(&files.key),
                format!("the key does not go with the certificate: {e}"),
            )]
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn problem(field: &str, value: String, message: String) -> Problem {
    Problem::error(
        ProblemCode::InvalidValue,
        field,
        value,
        message,
        "point cert at the PEM certificate chain (leaf first) and key at its PEM private key",
    )
}
