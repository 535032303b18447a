//! What `crossgate serve` tells a service manager (systemd's `Type=notify`, through the
//! `NOTIFY_SOCKET` datagram socket): ready once listening, reloading on SIGHUP, stopping on
//! SIGTERM, and a watchdog ping from the runtime while it runs. Without `NOTIFY_SOCKET` every
//! call does nothing. A send blocks while the manager's queue is full: on a runtime worker it
//! runs in `block_in_place`, so a slow reader never stalls the tasks queued on that worker.

/// The listeners are bound and serving starts: `READY=1`, with a status line for
/// `systemctl status`. Connections that arrive first wait in the listen backlog, and `/readyz`
/// is ready before the admin listener answers anything.
pub fn ready(status: &str) {
    send(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(status),
    ]);
}

/// A reload begins (`RELOADING=1` with the monotonic time systemd asks for); `ready` ends it.
/// Ignored by systemd before 253, harmless there.
pub fn reloading() {
    let mut states = vec![sd_notify::NotifyState::Reloading];
    if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    send(&states);
}

/// Shutdown began: in-flight requests are draining.
pub fn stopping() {
    send(&[
        sd_notify::NotifyState::Stopping,
        sd_notify::NotifyState::Status("draining in-flight requests"),
    ]);
}

/// When the service manager set a watchdog (`WATCHDOG_USEC`, for this process), pings it at
/// half the interval from a task of the serving runtime: a runtime that stops making progress
/// stops the pings, and systemd restarts the gateway.
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let timeout = sd_notify::watchdog_enabled()?;
    let every = (timeout / 2).max(std::time::Duration::from_millis(1));
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            send(&[sd_notify::NotifyState::Watchdog]);
        }
    }))
}

fn send(states: &[sd_notify::NotifyState]) {
    let notify = || sd_notify::notify(states);
    // block_in_place hands a worker's queue to another thread; off a worker (the thread in
    // block_on, no runtime) it just runs the send. It panics on a current-thread runtime.
    let sent = match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(notify)
        }
        _ => notify(),
    };
    if let Err(e) = sent {
        tracing::warn!(target: "crossgate::gateway", "cannot notify the service manager (NOTIFY_SOCKET): {e}");
    }
}
