//! Helpers shared by the integration tests.

/// The shipped smoke scenario, with lateness judged loosely: tests run side by side on a small
/// machine, and these are not about the generator's validity.
pub fn tolerant_smoke(dir: &std::path::Path) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml"))
            .unwrap();
    let path = dir.join("smoke-tolerant.toml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        &path,
        text.replacen("[traffic]\n", "[traffic]\nlate_after = \"3s\"\n", 1),
    )
    .unwrap();
    path
}
