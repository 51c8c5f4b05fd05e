//! Logging: `tracing` to stdout, human-readable or JSON.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use postroute_app::config::{LogConfig, LogFormat};

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `log.level`.
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes are for a person at a terminal; in a file, a pipe or a log collector they
    // are noise that breaks grep. `NO_COLOR` (no-color.org) turns them off at a terminal too.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(wants_colour(std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR")));
    // A second init (tests) keeps the first subscriber.
    let _ = match log.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Colour only for a terminal, and only when `NO_COLOR` is unset or empty.
fn wants_colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::wants_colour;

    #[test]
    fn colour_only_at_a_terminal_that_did_not_ask_for_none() {
        assert!(wants_colour(true, None));
        assert!(!wants_colour(false, None), "a file or a pipe gets no escape codes");
        assert!(!wants_colour(true, Some("1".into())));
        assert!(wants_colour(true, Some("".into())), "an empty NO_COLOR is unset");
    }
}
