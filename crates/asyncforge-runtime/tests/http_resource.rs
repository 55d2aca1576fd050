//! Resources in this process, over real loopback sockets: the scenarios every resource store
//! passes (`http_common::resources`).

mod http_common;

use asyncforge_runtime::http::resource::{ResourceConfig, ResourceStore};
use http_common::{Counter, resources};

fn memory(config: ResourceConfig) -> ResourceStore<Counter> {
    ResourceStore::new(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_loses_no_update_and_its_absence_does() {
    resources::if_match_loses_no_update_and_its_absence_does(&memory).await;
}

#[tokio::test]
async fn conditional_requests() {
    resources::conditional_requests(&memory).await;
}

#[tokio::test]
async fn lock_contention_release_and_expiry() {
    resources::lock_contention_release_and_expiry(&memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_holds_until_change_or_timeout() {
    resources::long_polling_holds_until_change_or_timeout(&memory).await;
}
