//! The admin listener: `/metrics` counts what the gateway did, `/healthz` and `/readyz` tell
//! whether it runs and whether it takes traffic.

mod common;

use std::time::Duration;

use common::*;
use http::{Request, Response};
use tokio::sync::oneshot;

async fn admin_get(gateway: &RunningGateway, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", gateway.admin.expect("an admin listener"));
    let (status, headers, body) = get(url, None).await;
    if path == "/metrics" && status == 200 {
        assert_eq!(
            all(&headers, "content-type"),
            ["text/plain; version=0.0.4; charset=utf-8"]
        );
    }
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn metrics_count_requests_cors_refusals_latency_and_reloads() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let mut config = config(upstream.upstream());
        config.admin = Some("127.0.0.1:0".parse().unwrap());
        let gateway = RunningGateway::start_config(config.clone()).await;
        assert_ne!(gateway.admin.unwrap().port(), 0);

        get(gateway.url("/a"), Some(ALLOWED)).await;
        get(gateway.url("/b"), Some(DISALLOWED)).await;
        get(gateway.url("/c"), None).await;
        let preflight = |origin: &str, method: &str, headers: &str| {
            Request::options(gateway.url("/p"))
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header("access-control-request-headers", headers)
                .body(empty())
                .unwrap()
        };
        send(preflight(ALLOWED, "PUT", "content-type")).await;
        send(preflight(DISALLOWED, "PUT", "content-type")).await;
        send(preflight(ALLOWED, "PATCH", "content-type")).await;
        send(preflight(ALLOWED, "PUT", "x-not-allowed")).await;
        // OPTIONS without Access-Control-Request-Method is the application's: forwarded, and
        // counted as no preflight.
        let options = Request::options(gateway.url("/o"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        assert_eq!(send(options).await.0, 200);
        gateway.handle.reload(config.clone()).unwrap();
        let mut bad = config.clone();
        bad.cors.allow_origins = vec!["null".to_owned()];
        gateway.handle.reload(bad).unwrap_err();

        let (status, text) = admin_get(&gateway, "/metrics").await;
        assert_eq!(status, 200);
        let value = |series: &str| metric(&text, series);
        assert_eq!(value("crossgate_requests_total{route=\"/\",status=\"200\"}"), 4.0);
        assert_eq!(value("crossgate_requests_total{route=\"/\",status=\"204\"}"), 1.0);
        assert_eq!(value("crossgate_requests_total{route=\"/\",status=\"403\"}"), 3.0);
        assert_eq!(value("crossgate_preflights_allowed_total{route=\"/\"}"), 1.0);
        for reason in ["origin-not-allowed", "method-not-allowed", "header-not-allowed"] {
            assert_eq!(
                value(&format!(
                    "crossgate_preflights_denied_total{{route=\"/\",reason=\"{reason}\"}}"
                )),
                1.0,
                "{reason}"
            );
        }
        assert_eq!(
            value("crossgate_disallowed_origin_requests_total{route=\"/\",reason=\"origin-not-allowed\"}"),
            1.0
        );
        assert_eq!(value("crossgate_upstream_response_seconds_count{route=\"/\"}"), 4.0);
        assert_eq!(
            value("crossgate_upstream_response_seconds_bucket{route=\"/\",le=\"+Inf\"}"),
            4.0
        );
        assert_eq!(value("crossgate_config_reloads_total{result=\"ok\"}"), 1.0);
        assert_eq!(value("crossgate_config_reloads_total{result=\"failed\"}"), 1.0);
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = line.rsplit_once(' ').unwrap();
            v.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
        }

        assert_eq!(admin_get(&gateway, "/healthz").await, (200, "ok\n".to_owned()));
        assert_eq!(admin_get(&gateway, "/readyz").await.0, 200);
        assert_eq!(admin_get(&gateway, "/nothing").await.0, 404);
    })
    .await;
}

#[tokio::test]
async fn readyz_fails_while_draining_and_new_connections_are_refused() {
    bounded(async {
        let (arrived_tx, arrived_rx) = oneshot::channel::<()>();
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let hooks = std::sync::Mutex::new(Some((arrived_tx, release_rx)));
        let upstream = TestUpstream::start(move |_| {
            let hook = hooks.lock().unwrap().take();
            async move {
                if let Some((arrived, release)) = hook {
                    let _ = arrived.send(());
                    let _ = release.await;
                }
                Response::new(full("finished"))
            }
        })
        .await;
        let mut config = config(upstream.upstream());
        config.admin = Some("127.0.0.1:0".parse().unwrap());
        let mut gateway = RunningGateway::start_config(config).await;
        let in_flight = tokio::spawn(get(gateway.url("/slow"), Some(ALLOWED)));
        arrived_rx.await.unwrap();
        gateway.signal_stop();
        // Draining: not ready, the listener closed, the request in flight still running.
        let mut ready = 200;
        for _ in 0..100 {
            ready = admin_get(&gateway, "/readyz").await.0;
            if ready == 503 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(ready, 503);
        assert_eq!(admin_get(&gateway, "/healthz").await.0, 200);
        assert!(tokio::net::TcpStream::connect(gateway.addr).await.is_err());
        release_tx.send(()).unwrap();
        let (status, headers, body) = in_flight.await.unwrap();
        assert_eq!((status, &body[..]), (200, &b"finished"[..]));
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        gateway.task.take().unwrap().await.unwrap().unwrap();
    })
    .await;
}
