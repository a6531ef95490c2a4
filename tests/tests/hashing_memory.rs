//! Memory of many password hashes in one process: an import hashes one argon2id per
//! plain-text row, and a warm login function hashes on every request. Each hash works in
//! 19 MiB; the process must hold about one such block per hashing place, however many
//! hashes it has done. This file is its own test binary (and nextest runs each test in a
//! process of its own) so the peak it reads is this test's.

use userhub::auth::passwords::{self, Verified};
use userhub_tests::peak_rss_kib;

const BLOCK_MIB: u64 = 19;
const HASHES: usize = 120;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_parallel_hashes_hold_one_block_per_hashing_place() {
    let before = peak_rss_kib().expect("VmHWM") / 1024;
    let tasks: Vec<_> = (0..HASHES)
        .map(|i| {
            tokio::spawn(async move {
                let password = format!("correct horse battery {i}");
                let hash = passwords::hash(password.clone()).await.expect("hash");
                let wrong = passwords::verify(format!("{password}!"), Some(hash.clone()));
                let right = passwords::verify(password, Some(hash));
                (wrong.await.expect("verify"), right.await.expect("verify"))
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task"), (Verified::No, Verified::Yes));
    }
    let grown = (peak_rss_kib().expect("VmHWM") / 1024).saturating_sub(before);
    let places = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    // One block per place, and as much again for the allocator's and the threads' own.
    let bound = 2 * places * BLOCK_MIB + 16;
    eprintln!("{} hashes grew the peak RSS by {grown} MiB", 3 * HASHES);
    assert!(
        grown <= bound,
        "{} hashes grew the peak RSS by {grown} MiB; at most {bound} MiB expected for {places} hashing places",
        3 * HASHES
    );
}
