//! husk: the command line. Parses runc's flags, calls husk-container, prints runc's shapes.
//! Errors are logged once here (to --log in runc's format) and printed on stderr; exit 1.

mod args;
mod checkpoint;
mod commands;
mod exec_process;
mod logging;
mod update;

fn main() {
    husk_container::inherited_fds::note();
    husk_container::crash_point::start_clock();
    let argv = args::normalize(std::env::args());
    let cli = match args::parse(argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if prints_only(&cli) {
        husk_container::sys::default_sigpipe();
    }
    if cli.version {
        println!("husk version {}", env!("CARGO_PKG_VERSION"));
        println!("commit: {}", env!("HUSK_COMMIT"));
        println!("spec: {}", husk_spec::OCI_VERSION);
        return;
    }
    if let Err(e) = logging::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        eprintln!(
            "husk: opening log {}: {e}",
            cli.log
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display()
        );
        std::process::exit(1);
    }
    let code = match commands::dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = error_text(&e);
            // The log (--log) gets runc's line for clients to parse; stderr gets the plain
            // message for people, as runc prints it.
            if cli.log.is_some() {
                tracing::error!("{msg}");
            }
            eprintln!("husk: {msg}");
            failure_code(&cli)
        }
    };
    std::process::exit(code);
}

/// Commands that write their output and do nothing else with stdout: a reader that goes away
/// (`| head -1`) ends them, as it ends runc. Not run, exec and the others that pass a
/// container's output on.
fn prints_only(cli: &args::Cli) -> bool {
    use args::Command as C;
    cli.version
        || matches!(
            cli.command,
            Some(C::State { .. } | C::List { .. } | C::Ps { .. } | C::Features | C::Events { .. })
        )
}

/// The exit code of a failed command: 1, or 255 for `exec`, as runc (whose exec returns the
/// process's own code when it ran, and 255 when it could not run it).
fn failure_code(cli: &args::Cli) -> i32 {
    match cli.command {
        Some(args::Command::Exec(_)) => 255,
        _ => 1,
    }
}

/// The error and its causes on one line, each cause once: the library's messages already
/// carry their sources, so anyhow's chain would repeat them.
fn error_text(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}
