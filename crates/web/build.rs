//! Rebuild when any file under web/ changes, is added or removed: the dashboard is
//! compiled into this crate (rust-embed's debug-embed), even in debug builds.

fn main() {
    println!("cargo:rerun-if-changed=../../web");
}
