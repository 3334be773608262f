//! Helpers shared by the integration tests. Each test file uses some of them.
#![allow(dead_code)]

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

/// The value of attribute `attr` in the first tag containing `anchor` (enough for our own pages).
pub fn html_attr(html: &str, anchor: &str, attr: &str) -> String {
    let at = html
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} in {html}"));
    let tag_start = html[..at].rfind('<').expect("tag start");
    let tag_end = at + html[at..].find('>').expect("tag end");
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key).unwrap_or_else(|| panic!("{attr} in {tag}")) + key.len();
    tag[v..v + tag[v..].find('"').expect("closing quote")].to_string()
}
