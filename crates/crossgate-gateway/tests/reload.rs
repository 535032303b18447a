//! Hot reload: atomic, validated first, never failing a request, in-flight requests finishing
//! on the configuration they started with; from the file when it changes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use crossgate::policy::PolicyConfig;
use crossgate_gateway::{ConfigFile, Gateway, GatewayConfig, Upstream};
use http::{Request, Response};
use tokio::sync::oneshot;

const SECOND: &str = "https://second.example.com";

fn with_origins(upstream: Upstream, origins: &[&str], expose: &str) -> GatewayConfig {
    let mut config = config(upstream);
    config.cors = PolicyConfig {
        allow_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
        expose_headers: vec![expose.to_owned()],
        ..PolicyConfig::default()
    };
    config
}

/// A gateway started from `file`, watching it every 50 ms: its handle, its URL, and the server
/// and watcher tasks.
async fn start_watched(
    file: &ConfigFile,
) -> (
    crossgate_gateway::GatewayHandle,
    String,
    tokio::task::JoinHandle<()>,
    tokio::task::JoinHandle<()>,
) {
    let (config, _) = file.load().unwrap();
    let bound = Gateway::start(config).await.unwrap();
    let handle = bound.handle();
    let url = format!("http://{}/", bound.local_addr());
    let server = tokio::spawn(async move {
        let _ = bound.serve(std::future::pending()).await;
    });
    let watcher = handle.watch(file.clone(), Duration::from_millis(50));
    (handle, url, server, watcher)
}

#[tokio::test]
async fn reloading_under_concurrent_load_loses_no_request() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let a = with_origins(upstream.upstream(), &[ALLOWED], "x-a");
        let b = with_origins(upstream.upstream(), &[ALLOWED, SECOND], "x-b");
        let gateway = RunningGateway::start_config(a.clone()).await;

        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..8 {
            let (url, stop, done) = (gateway.url("/load"), stop.clone(), done.clone());
            workers.push(tokio::spawn(async move {
                // One kept-alive client per worker: reloads must not break its connection.
                let client = client();
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let request = Request::get(url.clone())
                        .header("origin", ALLOWED)
                        .body(empty())
                        .unwrap();
                    match client.request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            let acao = response
                                .headers()
                                .get("access-control-allow-origin")
                                .cloned();
                            let expose = response
                                .headers()
                                .get("access-control-expose-headers")
                                .cloned();
                            let body = http_body_util::BodyExt::collect(response.into_body())
                                .await
                                .map(|b| b.to_bytes());
                            let ok = status == 200
                                && acao.as_ref().is_some_and(|v| v == ALLOWED)
                                && expose.is_some_and(|v| v == "x-a" || v == "x-b")
                                && body.as_ref().is_ok_and(|b| b == "ok");
                            if !ok {
                                failures.push(format!("{status} {acao:?} {body:?}"));
                            }
                        }
                        Err(e) => failures.push(e.to_string()),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                failures
            }));
        }
        let mut reloads = 0;
        while reloads < 40 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            let next = if reloads % 2 == 0 { &b } else { &a };
            gateway
                .handle
                .reload(next.clone())
                .expect("a valid configuration");
            reloads += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        for w in workers {
            failures.extend(w.await.unwrap());
        }
        let done = done.load(Ordering::Relaxed);
        assert!(
            failures.is_empty(),
            "{} of {done} failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        assert!(done > 200, "only {done} requests ran during the reloads");
        assert_eq!(gateway.handle.generation(), 41);
        assert_eq!(
            gateway.metric("crossgate_config_reloads_total{result=\"ok\"}"),
            40.0
        );
    })
    .await;
}

#[tokio::test]
async fn an_invalid_reload_is_refused_and_the_old_policy_keeps_serving() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let gateway =
            RunningGateway::start_config(with_origins(upstream.upstream(), &[ALLOWED], "x-a"))
                .await;
        let mut invalid = with_origins(upstream.upstream(), &["*", SECOND], "x-b");
        invalid.cors.allow_credentials = true;
        let problems = gateway.handle.reload(invalid).unwrap_err();
        assert!(
            problems.iter().filter(|p| p.is_error()).count() >= 2,
            "{problems:#?}"
        );
        assert!(
            problems.iter().all(|p| p.field.starts_with("cors.")),
            "{problems:#?}"
        );
        // Missing TLS files are refused the same way.
        let mut no_files = with_origins(upstream.upstream(), &[SECOND], "x-b");
        no_files.tls = Some(crossgate_gateway::TlsFiles {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        });
        let problems = gateway.handle.reload(no_files).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["tls.cert", "tls.key"]);

        let (_, headers, _) = get(gateway.url("/"), Some(ALLOWED)).await;
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        assert_eq!(all(&headers, "access-control-expose-headers"), ["x-a"]);
        let (_, headers, _) = get(gateway.url("/"), Some(SECOND)).await;
        assert!(!headers.contains_key("access-control-allow-origin"));
        assert_eq!(gateway.handle.generation(), 1);
        assert_eq!(
            gateway.metric("crossgate_config_reloads_total{result=\"failed\"}"),
            2.0
        );
    })
    .await;
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_configuration_it_started_with() {
    bounded(async {
        let (arrived_tx, arrived_rx) = oneshot::channel::<()>();
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let hooks = std::sync::Mutex::new(Some((arrived_tx, release_rx)));
        let upstream = TestUpstream::start(move |request| {
            let hook = if request.uri().path() == "/slow" {
                hooks.lock().unwrap().take()
            } else {
                None
            };
            async move {
                if let Some((arrived, release)) = hook {
                    let _ = arrived.send(());
                    let _ = release.await;
                }
                Response::new(full("ok"))
            }
        })
        .await;
        let gateway =
            RunningGateway::start_config(with_origins(upstream.upstream(), &[ALLOWED], "x-a"))
                .await;
        let in_flight = tokio::spawn(get(gateway.url("/slow"), Some(ALLOWED)));
        arrived_rx.await.unwrap();
        gateway
            .handle
            .reload(with_origins(upstream.upstream(), &[SECOND], "x-b"))
            .unwrap();
        // New requests see the new policy at once...
        let (_, headers, _) = get(gateway.url("/"), Some(ALLOWED)).await;
        assert!(!headers.contains_key("access-control-allow-origin"));
        let (_, headers, _) = get(gateway.url("/"), Some(SECOND)).await;
        assert_eq!(all(&headers, "access-control-expose-headers"), ["x-b"]);
        // ...while the one in flight finishes on the old one.
        release_tx.send(()).unwrap();
        let (status, headers, _) = in_flight.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        assert_eq!(all(&headers, "access-control-expose-headers"), ["x-a"]);
    })
    .await;
}

#[tokio::test]
async fn a_changed_file_is_reloaded_and_a_broken_one_refused() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let dir = std::env::temp_dir().join(format!("crossgate-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.toml");
        let write = |origin: &str| {
            let text = format!(
                "listen = \"127.0.0.1:0\"\nupstream = \"{}\"\n[cors]\nallow_origins = [\"{origin}\"]\n",
                upstream.url()
            );
            // Write and rename, as editors do: the watcher must see the new file.
            let tmp = dir.join("gateway.toml.tmp");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        };
        write(ALLOWED);
        let file = ConfigFile::new(&path);
        let (handle, url, server, watcher) = start_watched(&file).await;
        let allowed = |origin: &'static str| {
            let url = url.clone();
            async move {
                let (_, headers, _) = get(url, Some(origin)).await;
                headers.contains_key("access-control-allow-origin")
            }
        };
        assert!(allowed(ALLOWED).await);

        write(SECOND);
        while !allowed(SECOND).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!allowed(ALLOWED).await);
        assert_eq!(handle.generation(), 2);

        std::fs::write(&path, "listen = [\n").unwrap();
        let failed = |h: &crossgate_gateway::GatewayHandle| {
            metric(&h.metrics(), "crossgate_config_reloads_total{result=\"failed\"}")
        };
        while failed(&handle) < 1.0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(allowed(SECOND).await, "the configuration in force kept serving");
        assert_eq!(handle.generation(), 2);
        // A manual reload of the broken file is refused too.
        assert!(!handle.reload_file(&file));

        watcher.abort();
        server.abort();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// An origin list file is watched like the configuration, under load: a line added grants
/// access within the watch interval, a line removed revokes it, and a bad line keeps the whole
/// previous list (the reload is refused, naming the line). No request fails meanwhile.
#[tokio::test]
async fn an_origin_list_file_is_watched_under_load() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let dir = std::env::temp_dir().join(format!("crossgate-origins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.toml");
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:0\"\nupstream = \"{}\"\n[cors]\nallow_origins = [\"{ALLOWED}\"]\nallow_origins_file = \"origins.txt\"\n",
                upstream.url()
            ),
        )
        .unwrap();
        let list = dir.join("origins.txt");
        let write_list = |text: &str| {
            let tmp = dir.join("origins.txt.tmp");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, &list).unwrap();
        };
        write_list("# tenants\nhttps://t1.example\n");
        let file = ConfigFile::new(&path);
        let (handle, url, server, watcher) = start_watched(&file).await;

        // Load: kept-alive clients from the origin of the configuration itself.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (url, stop) = (url.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let client = client();
                let (mut done, mut failures) = (0usize, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let request = Request::get(url.clone())
                        .header("origin", ALLOWED)
                        .body(empty())
                        .unwrap();
                    match client.request(request).await {
                        Ok(r) if r.status() == 200
                            && r.headers()
                                .get("access-control-allow-origin")
                                .is_some_and(|v| v == ALLOWED) => {}
                        Ok(r) => failures.push(format!("{} {:?}", r.status(), r.headers())),
                        Err(e) => failures.push(e.to_string()),
                    }
                    done += 1;
                }
                (done, failures)
            }));
        }

        let allowed = |origin: &'static str| {
            let url = url.clone();
            async move {
                let (_, headers, _) = get(url, Some(origin)).await;
                headers
                    .get("access-control-allow-origin")
                    .is_some_and(|v| v == origin)
            }
        };
        assert!(allowed("https://t1.example").await);
        assert!(!allowed("https://t2.example").await);

        write_list("# tenants\nhttps://t1.example\nhttps://t2.example\n");
        while !allowed("https://t2.example").await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        write_list("# tenants\nhttps://t2.example\n");
        while allowed("https://t1.example").await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let generation = handle.generation();

        // A bad line: the whole new list is refused, the previous one keeps serving.
        write_list("https://t2.example\nhttps://t3.example\nhttps://t4.example/path\n");
        let failed = |h: &crossgate_gateway::GatewayHandle| {
            metric(&h.metrics(), "crossgate_config_reloads_total{result=\"failed\"}")
        };
        while failed(&handle) < 1.0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(allowed("https://t2.example").await);
        assert!(!allowed("https://t3.example").await, "no part of a refused list applies");
        assert_eq!(handle.generation(), generation);
        let Err(crossgate_gateway::LoadError::Invalid { problems, .. }) = file.load() else {
            panic!("the bad list must be refused");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "origins.txt:3");
        assert!(!problems[0].fix.is_empty());

        stop.store(true, Ordering::Relaxed);
        let (mut done, mut failures) = (0, Vec::new());
        for w in workers {
            let (d, f) = w.await.unwrap();
            done += d;
            failures.extend(f);
        }
        assert!(failures.is_empty(), "{} failed: {:?}", failures.len(), &failures[..failures.len().min(3)]);
        assert!(done > 50, "only {done} requests ran during the reloads");
        watcher.abort();
        server.abort();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
