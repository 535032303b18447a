//! A minimal upstream for the gateway load benchmark (`scripts/bench-gateway.sh`): answers
//! every request with 200 and a small JSON body (16 KiB of JSON for paths under `/big`),
//! HTTP/1.1 keep-alive, nothing else.
//!
//! `cargo run --release -p crossgate-gateway --example bench_upstream -- 127.0.0.1:3000`
//! (the worker threads follow `TOKIO_WORKER_THREADS`).

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &[u8] = br#"{"id":1,"name":"item","tags":["a","b"]}"#;
const BIG_LEN: usize = 16 * 1024;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            // `{"pad":"xxx...x"}`, 16 KiB in all.
            let mut big = br#"{"pad":""#.to_vec();
            big.resize(BIG_LEN - 2, b'x');
            big.extend_from_slice(br#""}"#);
            let big = Bytes::from(big);
            let listener = TcpListener::bind(&addr).await?;
            println!("bench upstream on http://{}", listener.local_addr()?);
            loop {
                let (stream, _) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                let big = big.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let body = if request.uri().path().starts_with("/big") {
                            big.clone()
                        } else {
                            Bytes::from_static(BODY)
                        };
                        async move {
                            let mut response = Response::new(Full::new(body));
                            response.headers_mut().insert(
                                header::CONTENT_TYPE,
                                HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
}
