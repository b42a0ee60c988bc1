//! The logic of the `simvue` command's subcommands other than `send` (which is
//! [`crate::sender`]): `show` ([`show`]) and `check` ([`check`]), and what they share. The
//! executable (`src/bin/simvue.rs`) only parses arguments and prints.

pub mod check;
pub mod plot;
pub mod show;

use crate::config::{Config, Mode, Sources};
use crate::error::Result;

/// The configuration as online mode would use it: `simvue.toml`, profiles and the `SIMVUE_*`
/// variables, except `SIMVUE_MODE` (a job script's `SIMVUE_MODE=offline` left in the
/// environment must not turn the uploader offline).
pub fn online_config() -> Result<Config> {
    let process = Sources::process();
    let env = |k: &str| {
        if k == "SIMVUE_MODE" {
            None
        } else {
            (process.env)(k)
        }
    };
    Config::load_from(
        Mode::Online,
        &Sources {
            env: &env,
            cwd: process.cwd.clone(),
            home: process.home.clone(),
        },
    )
}

/// `url` with any `user:password@` removed, for printing.
pub fn printable_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_in_urls_are_not_printed() {
        assert_eq!(
            super::printable_url("https://u:secret@simvue.example.org/api"),
            "https://simvue.example.org/api"
        );
        assert_eq!(
            super::printable_url("http://127.0.0.1:9/api"),
            "http://127.0.0.1:9/api"
        );
    }
}
