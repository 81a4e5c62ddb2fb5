//! `sqlx::migrate!` embeds the migration folders when the crate compiles, and stable
//! Rust cannot tell the compiler to watch a folder: without this, adding a migration
//! file and nothing else would build a server that never runs it (sqlx's documented
//! remedy, `sqlx migrate build-script`).
fn main() {
    println!("cargo:rerun-if-changed=src/store/migrations");
}
