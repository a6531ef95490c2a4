//! The build script every function shares: link its binary as a position-dependent
//! executable on Linux.
//!
//! Why: a position-independent executable is relocated by the dynamic loader at every
//! start. For these binaries that is ~40,000 relocations and a copy-on-write fault on each of
//! ~140 pages of relocated data, about 0.5 ms of a ~2.7 ms cold start, measured with
//! `perf stat` (docs/BENCHMARKS.md). Linked at a fixed address there is nothing to relocate.
//! The cost is that the executable's own image is not randomised (ASLR still places the
//! stack, the heap and the shared libraries); the code is safe Rust, which does not lean on
//! ASLR the way C does. Only the function binaries get this; tests and tools stay PIE.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
