//! Promises kept by documentation rather than code: the README must go on saying them.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

fn readme() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(path).expect("README.md")
}

// proves S-DATA-2
#[test]
fn the_readme_documents_seven_days_of_point_in_time_recovery_for_postgresql() {
    let readme = readme();
    let section = readme
        .split("## Backups and recovery")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Backups and recovery section");
    for needed in
        ["archive_mode = on", "archive_command", "7 days", "recovery_target_time", "base backup"]
    {
        assert!(section.contains(needed), "the recovery section no longer says `{needed}`");
    }
}
