//! Driving services without a runtime: every contender answers without waiting (the inner
//! services are ready at once), so one poll with a no-op waker completes each future, as the
//! first poll of a real server's task would.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Polls `future` once; it must be ready.
#[inline]
pub fn ready_now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the benchmarked service did not answer at once"),
    }
}

/// Calls a `poll_ready` once; the service must be ready.
#[inline]
pub fn ready_service<E: std::fmt::Debug>(
    poll_ready: impl FnOnce(&mut Context<'_>) -> Poll<Result<(), E>>,
) {
    let mut cx = Context::from_waker(Waker::noop());
    match poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => panic!("service not ready: {e:?}"),
        Poll::Pending => panic!("service not ready at once"),
    }
}
