//! TLS termination: certificates generated when the test runs (no key is committed), HTTP/2 and
//! HTTP/1.1 by ALPN, new certificate files picked up by a reload.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use crossgate_gateway::{GatewayConfig, TlsFiles};
use http::{Request, Version};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::ServerName;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring};

/// A CA and a `localhost` certificate it signed, written as PEM files in `dir`.
struct Pki {
    ca: rustls_pki_types::CertificateDer<'static>,
    files: TlsFiles,
}

fn pki(dir: &Path, name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("test CA {name}"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let cert: PathBuf = dir.join(format!("{name}-cert.pem"));
    let key_path: PathBuf = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Pki {
        ca: ca.der().clone(),
        files: TlsFiles {
            cert,
            key: key_path,
        },
    }
}

fn connector(ca: &rustls_pki_types::CertificateDer<'static>, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// One request over TLS with the given ALPN; returns the version, the ACAO and the echo.
async fn over_tls(
    addr: std::net::SocketAddr,
    ca: &rustls_pki_types::CertificateDer<'static>,
    alpn: &[u8],
) -> Result<(Version, Vec<String>, Value), String> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector(ca, &[alpn])
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let io = TokioIo::new(tls);
    let request = Request::get("/tls?x=1")
        .header("host", "localhost")
        .header("origin", ALLOWED)
        .body(empty())
        .unwrap();
    let response = if alpn == b"h2" {
        let request = {
            let (mut parts, body) = request.into_parts();
            parts.uri = format!("https://localhost:{}/tls?x=1", addr.port())
                .parse()
                .unwrap();
            parts.headers.remove("host");
            Request::from_parts(parts, body)
        };
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake::<_, _, TestBody>(TokioExecutor::new(), io)
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, TestBody>(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?
    };
    let version = response.version();
    let acao = all(response.headers(), "access-control-allow-origin");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok((version, acao, serde_json::from_slice(&body).unwrap()))
}

fn forwarded_proto(echo: &Value) -> Option<String> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pair| pair[0] == "x-forwarded-proto")
        .map(|pair| pair[1].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn tls_is_terminated_with_http2_and_http1_and_reloaded_certificates() {
    bounded(async {
        let dir = std::env::temp_dir().join(format!("crossgate-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = pki(&dir, "first");
        let mut config: GatewayConfig = config(crossgate_gateway::Upstream::Echo);
        config.tls = Some(first.files.clone());
        let gateway = RunningGateway::start_config(config.clone()).await;

        let (version, acao, echo) = over_tls(gateway.addr, &first.ca, b"h2").await.unwrap();
        assert_eq!(version, Version::HTTP_2);
        assert_eq!(acao, [ALLOWED]);
        assert_eq!(echo["path"], "/tls");
        assert_eq!(forwarded_proto(&echo).as_deref(), Some("https"));

        let (version, acao, _) = over_tls(gateway.addr, &first.ca, b"http/1.1")
            .await
            .unwrap();
        assert_eq!(version, Version::HTTP_11);
        assert_eq!(acao, [ALLOWED]);

        // Plain HTTP on the TLS port gets no HTTP answer, and the connection is closed.
        let mut plain = TcpStream::connect(gateway.addr).await.unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let mut bytes = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            plain.read_to_end(&mut bytes),
        )
        .await
        .expect("closed, not left hanging")
        .ok();
        assert!(!bytes.starts_with(b"HTTP/"), "{bytes:?}");

        // New files, a reload: new connections get the new certificate.
        let second = pki(&dir, "second");
        config.tls = Some(second.files.clone());
        gateway.handle.reload(config).unwrap();
        let err = over_tls(gateway.addr, &first.ca, b"h2").await.unwrap_err();
        assert!(
            err.contains("certificate") || err.contains("UnknownIssuer"),
            "{err}"
        );
        let (_, acao, _) = over_tls(gateway.addr, &second.ca, b"h2").await.unwrap();
        assert_eq!(acao, [ALLOWED]);

        // A key that does not go with the certificate is refused; the old files keep serving.
        let mut mismatched = common::config(crossgate_gateway::Upstream::Echo);
        mismatched.tls = Some(TlsFiles {
            cert: first.files.cert.clone(),
            key: second.files.key.clone(),
        });
        let problems = gateway.handle.reload(mismatched).unwrap_err();
        assert_eq!(problems[0].field, "tls.key", "{problems:#?}");
        assert!(over_tls(gateway.addr, &second.ca, b"h2").await.is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
