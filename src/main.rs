//! `lodestar`: read the settings, build the application, run the command.

mod backup;
mod bench;
mod bench_digests;
mod cli;
mod demo;
mod generate;
mod import;
mod serve;
mod settings;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let settings = match settings::Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lodestar: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    init_tracing(&settings.log, cli.command.is_server());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lodestar: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli.command, settings)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lodestar: {}", cli::chain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: colour only on a terminal, JSON lines with `log.format = "json"`. One-shot
/// commands log warnings only unless `RUST_LOG` says otherwise, so their output stays theirs.
fn init_tracing(log: &settings::LogSettings, server: bool) {
    use std::io::IsTerminal;
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| {
        if server {
            log.filter.clone()
        } else {
            format!("warn,{}", quiet(&log.filter))
        }
    });
    let filter = tracing_subscriber::EnvFilter::new(filter);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.format {
        settings::LogFormat::Json => builder.json().init(),
        settings::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// The directives of a filter that name a target (`lodestar=debug`): a CLI command keeps those
/// but not a blanket `info`.
fn quiet(filter: &str) -> String {
    filter
        .split(',')
        .filter(|d| d.contains('='))
        .collect::<Vec<_>>()
        .join(",")
}
