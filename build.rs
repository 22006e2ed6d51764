//! Rebuilds when a migration or the web UI bundle changes: `sqlx::migrate!` embeds `migrations/` and
//! `api::ui` embeds `assets/ui/dist` at compile time, and cargo would not otherwise notice new files.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // The web UI bundle is embedded in release builds: rebuild when it is rebuilt.
    println!("cargo:rerun-if-changed=assets/ui/dist");
}
