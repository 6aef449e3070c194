//! husk-docgen: husk's man pages and shell completions, from the clap definitions husk parses
//! its command line with (crates/cli/src/args.rs), so that neither can drift from it.
//!
//! `husk-docgen man DIR` writes husk.8 and husk-COMMAND.8 for every command;
//! `husk-docgen completions DIR` writes husk.bash, _husk (zsh) and husk.fish.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

#[allow(dead_code)] // husk's own parsing helpers, not needed to describe the command line
#[path = "../../cli/src/args.rs"]
mod args;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let result = match (argv.get(1).map(String::as_str), argv.get(2)) {
        (Some("man"), Some(dir)) => man_pages(Path::new(dir)),
        (Some("completions"), Some(dir)) => completions(Path::new(dir)),
        _ => Err("usage: husk-docgen man DIR | completions DIR".into()),
    };
    if let Err(e) = result {
        eprintln!("husk-docgen: {e}");
        std::process::exit(1);
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// husk's command, as the binary builds it, named husk.
fn husk() -> clap::Command {
    args::Cli::command().name("husk").bin_name("husk")
}

fn man_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = husk();
    // Built, so that each command carries the global flags (--root, --log...) it accepts.
    cmd.build();
    write_page(dir, "husk", cmd.clone(), MAIN_NOTE)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("husk-{}", sub.get_name());
        let page = sub
            .clone()
            .name(&*Box::leak(name.clone().into_boxed_str()))
            .bin_name(format!("husk {}", sub.get_name()));
        write_page(dir, &name, page, command_note(sub.get_name()))?;
    }
    Ok(())
}

/// One page, section 8, with a RUNC COMPATIBILITY section after clap's own.
fn write_page(dir: &Path, name: &str, cmd: clap::Command, note: &str) -> Result<()> {
    let man = clap_mangen::Man::new(cmd)
        .section("8")
        .manual("husk manual")
        .source(concat!("husk ", env!("CARGO_PKG_VERSION")));
    let mut out: Vec<u8> = Vec::new();
    man.render(&mut out)?;
    writeln!(out, ".SH \"RUNC COMPATIBILITY\"\n{}", roff_text(note))?;
    if name != "husk" {
        writeln!(out, ".SH \"SEE ALSO\"\n\\fBhusk\\fR(8)")?;
    }
    std::fs::write(dir.join(format!("{name}.8")), out)?;
    Ok(())
}

/// Plain text as roff: a line starting with a dot or quote is escaped, backslashes doubled.
fn roff_text(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const MAIN_NOTE: &str = "husk takes runc's commands and flags (Go-style -flag too), exits with \
runc's codes, prints runc's JSON shapes and writes runc's log lines, so that containerd, \
docker, podman and Kubernetes call it as they call runc. Where it differs: it has no \
checkpoint and restore yet; --systemd-cgroup works on cgroup v2 hosts only; AppArmor and \
SELinux labels and linux.intelRdt are refused by name; --version says husk, whatever name \
it is called by. The full table is docs/cli.md in husk's source.";

/// What a command's page says of runc.
fn command_note(command: &str) -> &'static str {
    match command {
        "create" | "run" => {
            "As runc's. --systemd-cgroup works on cgroup v2 hosts only (a v1 or \
hybrid host is an error, never a cgroupfs fallback). A config without a mount namespace runs \
in the host's, and delete takes its mounts off again."
        }
        "exec" => "As runc's, with --ignore-paused, --cgroup and --pidfd-socket of runc 1.2.",
        "spec" => "As runc's: the same default config, with --rootless.",
        "features" => "runc's JSON shape, with what husk supports.",
        _ => "The same flags and meaning as runc's command of the same name.",
    }
}

fn completions(dir: &Path) -> Result<()> {
    use clap_complete::{generate, Shell};
    std::fs::create_dir_all(dir)?;
    for (shell, file, ids) in [
        (Shell::Bash, "husk.bash", BASH_IDS),
        (Shell::Zsh, "_husk", ""),
        (Shell::Fish, "husk.fish", FISH_IDS),
    ] {
        let mut out: Vec<u8> = Vec::new();
        generate(shell, &mut husk(), "husk", &mut out);
        out.extend_from_slice(ids.as_bytes());
        std::fs::write(dir.join(file), out)?;
    }
    Ok(())
}

/// bash: container ids (from `husk list -q`, with the line's --root) where a command takes one.
const BASH_IDS: &str = r#"
# Container ids, from `husk list -q` with the --root given on the line, where a command
# takes one (its first word that is not a flag).
_husk_ids() {
    local root=() i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --root|-root) root=(--root "${COMP_WORDS[i+1]}") ;;
            --root=*) root=(--root "${COMP_WORDS[i]#*=}") ;;
        esac
    done
    "${COMP_WORDS[0]}" "${root[@]}" list -q 2>/dev/null
}
_husk_with_ids() {
    _husk "$@"
    local cmd="" i j words=0 cur="${COMP_WORDS[COMP_CWORD]}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --root|--log|--log-format|--criu|-root|-log|-log-format) ((i++)) ;;
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    case "$cmd" in
        start|state|kill|delete|pause|resume|update|events|exec|ps) ;;
        *) return 0 ;;
    esac
    [[ "$cur" == -* ]] && return 0
    for ((j = i + 1; j < COMP_CWORD; j++)); do
        [[ "${COMP_WORDS[j]}" != -* ]] && ((words++))
    done
    ((words == 0)) || return 0
    COMPREPLY=($(compgen -W "$(_husk_ids)" -- "$cur"))
}
complete -F _husk_with_ids -o bashdefault -o default husk
"#;

/// fish: the same ids.
const FISH_IDS: &str = "
complete -c husk -n '__fish_seen_subcommand_from start state kill delete pause resume update events exec ps' -f -a '(husk list -q 2>/dev/null)'
";
