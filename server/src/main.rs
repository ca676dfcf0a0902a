//! `ledcast-server`: the command line over the server library.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use ledcast_server::compile_cmd::CompileArgs;
use ledcast_server::config::Config;
use ledcast_server::store::{NewUser, Role};
use ledcast_server::{apply, auth, bench, compile_cmd, materials, service};

/// ledcast central server: compiles playlists into signed per-screen
/// rotations, serves media and the web UI, and pushes rotations to LED agents
/// over MQTT.
#[derive(Parser)]
#[command(name = "ledcast-server", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration comes from, plus common overrides.
#[derive(Debug, Clone, clap::Args)]
struct ConfigArgs {
    /// TOML configuration (see ledcast.example.toml); defaults apply without it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override `data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl ConfigArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole demo: server, SQLite, embedded MQTT broker and one agent per demo screen.
    Demo(ledcast_server::demo::DemoArgs),
    /// Serve the HTTP API, web UI and MQTT publisher with a TOML configuration.
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Override `listen` (e.g. 127.0.0.1:0 for a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Validate, store and compile the playlists/ TOML files (like POST /api/v1/apply).
    Apply {
        #[command(flatten)]
        config: ConfigArgs,
        /// Directory with the playlist *.toml files.
        dir: PathBuf,
        /// Show the diff and diagnostics without storing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the stored playlist files back out, verbatim.
    Export {
        #[command(flatten)]
        config: ConfigArgs,
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Import the materials a materials.toml lists (files under --media), e.g. the demo's.
    /// Entries marked approved are approved by the operator running this (audited as `cli`).
    ImportMaterials {
        #[command(flatten)]
        config: ConfigArgs,
        /// The materials list.
        #[arg(long, default_value = "playlists/materials.toml")]
        materials: PathBuf,
        /// Directory the entries' `file` paths are relative to.
        #[arg(long, default_value = "media")]
        media: PathBuf,
    },
    /// Import a weekly library pack (a .zip or a directory with pack.toml):
    /// every material goes through the media pipeline and waits for approval.
    /// Works without a running server; importing the same pack twice changes nothing.
    Import {
        #[command(flatten)]
        config: ConfigArgs,
        /// The pack: a .zip file or a directory.
        pack: PathBuf,
    },
    /// Compile playlists/ into per-screen rotations and explain the timeline.
    Compile(CompileArgs),
    /// Draw a screen's day as one contact sheet (the agent's display code on a virtual clock).
    Preview(ledcast_server::contact_sheet::PreviewArgs),
    /// Write broker configuration from the store (after enrolling screens).
    BrokerConfig {
        #[command(subcommand)]
        command: BrokerConfigCommand,
    },
    /// The server signing key.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the HTTP API's OpenAPI 3.1 document (what GET /api/v1/openapi.json answers).
    Openapi,
    /// Benchmarks that print one figure line each.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user (default role admin). Prints a generated password, or
    /// reads one from stdin with --password-stdin.
    Create {
        #[command(flatten)]
        config: ConfigArgs,
        /// Login name.
        #[arg(long)]
        username: String,
        /// admin, editor, approver or branch.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Sites of a branch user (repeat).
        #[arg(long = "site")]
        sites: Vec<String>,
        /// Read the password from stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum BrokerConfigCommand {
    /// Mosquitto password file, ACL and config snippet: each enrolled device
    /// may read only its own rotation/command/ack and write only its own
    /// state/plays; the server account gets the rest.
    Mosquitto {
        #[command(flatten)]
        config: ConfigArgs,
        /// Directory to write `passwords`, `acl` and `ledcast.conf` into.
        #[arg(long)]
        out: PathBuf,
        /// Mosquitto `listener` line argument (port, optionally address).
        #[arg(long, default_value = "1883")]
        listener: String,
        /// Another server replica's `[mqtt] username` (repeat): each replica
        /// needs its own login, since a login is its client id. They share
        /// the configured server password.
        #[arg(long = "server-user")]
        server_users: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// New server signing key; the old one is kept to sign the message that
    /// tells agents the new key (sent when the server next starts).
    Rotate {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Full and incremental compile of a synthetic site.
    Compile {
        /// Number of screens.
        #[arg(long, default_value_t = 1000)]
        screens: usize,
    },
    /// Poster ingest and renditions.
    Media,
    /// Play-record ingest through the embedded broker and the real ingest path.
    Ingest {
        /// Play records in total.
        #[arg(long, default_value_t = 200_000)]
        records: usize,
        /// Records per batch (agents send up to 200).
        #[arg(long, default_value_t = 50)]
        batch: usize,
        /// Screens, each with its own device key.
        #[arg(long, default_value_t = 200)]
        screens: usize,
        /// `postgres://…` (a fresh schema, dropped afterwards); default SQLite in a temp dir.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Library-pack import throughput (generated pack, fresh temp data dir).
    Import {
        /// Materials in the generated pack.
        #[arg(long, default_value_t = 200)]
        count: usize,
    },
}

/// Resolves on SIGTERM (`systemctl stop`) or SIGINT (Ctrl-C). Call inside
/// the runtime: the SIGTERM handler is installed at once, so a signal that
/// arrives while the server starts is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    async move {
        match term {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => tracing::info!("shutting down (SIGTERM)"),
                _ = tokio::signal::ctrl_c() => tracing::info!("shutting down (Ctrl-C)"),
            },
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("shutting down (Ctrl-C)");
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The embedded broker (rmqtt) logs every listener and
                // connection at info.
                .unwrap_or_else(|_| "info,sqlx=warn,rmqtt=warn,rmqtt_net=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Demo(args) => {
            let outcome = runtime()?
                .block_on(async { ledcast_server::demo::run(args, shutdown_signal()).await });
            // Started in the wrong directory: one line saying what to do.
            if let Some(missing) = outcome
                .as_ref()
                .err()
                .and_then(|e| e.downcast_ref::<ledcast_server::demo::NoDemoSite>())
            {
                eprintln!("ledcast demo: {missing}");
                std::process::exit(2);
            }
            outcome
        }
        Command::Compile(args) => compile_cmd::run(&args),
        Command::Preview(args) => ledcast_server::contact_sheet::run(&args),
        Command::Bench {
            command: BenchCommand::Compile { screens },
        } => {
            println!("{}", bench::compile::run(screens)?);
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Import { count },
        } => {
            println!("{}", runtime()?.block_on(bench::import::run(count))?);
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Ingest {
                    records,
                    batch,
                    screens,
                    database_url,
                },
        } => {
            let args = bench::ingest::IngestArgs {
                records,
                batch,
                screens,
                database_url,
            };
            println!("{}", runtime()?.block_on(bench::ingest::run(args))?);
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Media,
        } => {
            println!(
                "{}",
                bench::media::texts_line(Path::new("playlists"))
                    .context("the media texts line reads the demo's playlists/ (run from the repository root)")?
            );
            println!("{}", bench::media::run()?);
            Ok(())
        }
        Command::BrokerConfig {
            command:
                BrokerConfigCommand::Mosquitto {
                    config,
                    out,
                    listener,
                    server_users,
                },
        } => {
            let config = config.load()?;
            runtime()?.block_on(async {
                let state = service::build_state(config, String::new()).await?;
                let report = ledcast_server::push::mosquitto::write_from_store(
                    &state.store,
                    &state.config.mqtt,
                    &out,
                    &listener,
                    &server_users,
                )
                .await;
                state.store.close().await;
                let report = report?;
                for path in &report.written {
                    println!("{}", path.display());
                }
                println!("{} device account(s) and the server account", report.devices);
                for screen in &report.without_hash {
                    println!("note: screen {screen} was enrolled before Mosquitto hashes were kept; re-enroll it to give it a login");
                }
                if let Some(path) = &report.server_password_file {
                    println!(
                        "the server account's password is in {}: set [mqtt] password to it (and broker_url to the Mosquitto listener)",
                        path.display()
                    );
                }
                Ok(())
            })
        }
        Command::Keys {
            command: KeysCommand::Rotate { config },
        } => {
            let config = config.load()?;
            let rotated = if config.replicas.key_encryption_key_file.is_some() {
                // Replicas keep the keys in the database: start from the
                // deployment's, and keep the rotated ones there.
                runtime()?.block_on(async {
                    let store = ledcast_server::store::Store::connect(
                        &config.effective_database_url(),
                        None,
                    )
                    .await?;
                    let now = ledcast_server::clock::Clock::system().now().as_millis();
                    ledcast_server::replicas::sync_keys(&config, &store, now).await?;
                    let rotated = ledcast_server::keys::rotate(&config.data_dir)?;
                    ledcast_server::replicas::publish_rotated_keys(&config, &store, now).await?;
                    println!(
                        "the new keys are kept, sealed, in the database: restart every replica"
                    );
                    anyhow::Ok(rotated)
                })?
            } else {
                ledcast_server::keys::rotate(&config.data_dir)?
            };
            if let Some(retired) = &rotated.retired {
                println!(
                    "note: the key before {} was moved to {}; agents that never took {} must be re-enrolled",
                    rotated.old_key_id,
                    retired.display(),
                    rotated.old_key_id
                );
            }
            println!(
                "new server key {} (previous {} kept to sign the hand-over)",
                rotated.new_key_id, rotated.old_key_id
            );
            println!("restart the server: on start it tells every agent the new key and re-signs the current rotations");
            Ok(())
        }
        Command::Serve { config, listen } => {
            let mut config = config.load()?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            runtime()?.block_on(async { service::serve(config, shutdown_signal()).await })
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    config,
                    username,
                    role,
                    sites,
                    password_stdin,
                },
        } => {
            let config = config.load()?;
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?}: use admin, editor, approver or branch")
            })?;
            if ledcast_server::http::validate_username(&username).is_err() {
                bail!("user name {username:?} must be 1 to 64 letters, digits, '.', '_' or '-'");
            }
            let (password, generated) = if password_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the password from stdin")?;
                let password = text.trim_end_matches(['\r', '\n']).to_owned();
                if let Some(problem) = auth::password_problem(&password) {
                    bail!("{problem}");
                }
                (password, false)
            } else {
                (auth::generate_password(), true)
            };
            runtime()?.block_on(async {
                let state = service::build_state(config, String::new()).await?;
                let known: Vec<String> = state
                    .store
                    .list_sites()
                    .await?
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                if let Some(unknown) = sites.iter().find(|s| !known.contains(s)) {
                    bail!("unknown site {unknown:?}; apply the playlists that define it first");
                }
                if (role == Role::Branch) == sites.is_empty() {
                    bail!("branch users need --site, other roles take none");
                }
                let now = ledcast_server::clock::now().as_millis();
                state
                    .store
                    .create_user(NewUser {
                        id: &auth::random_hex::<8>(),
                        username: &username,
                        password_hash: &auth::hash_password(&password),
                        role,
                        sites: &sites,
                        now,
                    })
                    .await
                    .with_context(|| format!("creating user {username:?}"))?;
                state
                    .store
                    .audit(
                        now,
                        "cli",
                        "user.create",
                        &username,
                        &serde_json::json!({"role": role}),
                        None,
                    )
                    .await?;
                state.store.close().await;
                anyhow::Ok(())
            })?;
            if generated {
                println!(
                    "created {} {username}; password (shown once): {password}",
                    role.as_str()
                );
            } else {
                println!("created {} {username}", role.as_str());
            }
            Ok(())
        }
        Command::Apply {
            config,
            dir,
            dry_run,
        } => {
            let config = config.load()?;
            let files = apply::read_playlist_dir(&dir)?;
            runtime()?.block_on(async {
                let state = service::build_state(config, String::new()).await?;
                let outcome = apply::apply_files(&state, &files, "cli", dry_run).await?;
                for change in &outcome.diff {
                    println!("{:>9}  {}", change.change, change.name);
                }
                for d in &outcome.diagnostics {
                    println!("{d}");
                }
                for (screen, version) in &outcome.stored {
                    println!("stored rotation {screen} v{version}");
                }
                if outcome.applied {
                    state
                        .store
                        .audit(
                            ledcast_server::clock::now().as_millis(),
                            "cli",
                            "playlists.apply",
                            "playlists",
                            &serde_json::json!({"diff": outcome.diff}),
                            None,
                        )
                        .await?;
                }
                state.store.close().await;
                let errors = outcome.diagnostics.iter().filter(|d| d.is_error()).count();
                if errors > 0 {
                    bail!("{errors} error(s); nothing applied");
                }
                println!(
                    "{}",
                    if outcome.applied {
                        "applied"
                    } else {
                        "dry run: nothing stored"
                    }
                );
                Ok(())
            })
        }
        Command::ImportMaterials {
            config,
            materials,
            media,
        } => {
            let config = config.load()?;
            let text = std::fs::read_to_string(&materials)
                .with_context(|| format!("reading {}", materials.display()))?;
            runtime()?.block_on(async {
                let state = service::build_state(config, String::new()).await?;
                let (imported, skipped, problems) =
                    materials::import_materials_file(&state, &text, &media, "cli", "cli").await?;
                state
                    .store
                    .audit(
                        ledcast_server::clock::now().as_millis(),
                        "cli",
                        "materials.import",
                        &materials.display().to_string(),
                        &serde_json::json!({"imported": imported, "skipped": skipped}),
                        None,
                    )
                    .await?;
                state.store.close().await;
                for problem in &problems {
                    println!("problem: {problem}");
                }
                println!(
                    "{imported} imported, {skipped} already present, {} problem(s)",
                    problems.len()
                );
                if problems.is_empty() {
                    Ok(())
                } else {
                    bail!("{} material(s) could not be imported", problems.len())
                }
            })
        }
        Command::Import { config, pack } => {
            let config = config.load()?;
            let pack = read_pack(&pack)?;
            runtime()?.block_on(async {
                let state = service::build_state(config, String::new()).await?;
                let bar = indicatif::ProgressBar::new(pack.entries.len() as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                    )
                    .context("progress bar template")?,
                );
                let report =
                    ledcast_server::packs::import_pack(&state, &pack, "cli", |done, _, title| {
                        bar.set_position(done as u64);
                        bar.set_message(title.to_owned());
                    })
                    .await;
                bar.finish_and_clear();
                let report = report?;
                state
                    .store
                    .audit(
                        ledcast_server::clock::now().as_millis(),
                        "cli",
                        "pack.import",
                        &report.edition,
                        &serde_json::json!({
                            "imported": report.imported(),
                            "duplicates": report.duplicates(),
                            "refused": report.refused(),
                        }),
                        None,
                    )
                    .await?;
                state.store.close().await;
                for name in &pack.unreferenced {
                    println!("note: {name} is in the pack but no material names it (not imported)");
                }
                print!("{}", report.table());
                println!("{report}");
                Ok(())
            })
        }
        Command::Openapi => {
            let doc = ledcast_server::router::openapi::build(&Default::default());
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::Export { config, out } => {
            let config = config.load()?;
            runtime()?.block_on(async {
                let state = service::build_state(config, String::new()).await?;
                let files = state.store.playlist_files().await?;
                state.store.close().await;
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("creating {}", out.display()))?;
                for file in &files {
                    let path = out.join(Path::new(&file.name).file_name().context("file name")?);
                    std::fs::write(&path, &file.text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("{}", path.display());
                }
                Ok(())
            })
        }
    }
}

/// Opens a pack from a `.zip` file or a directory (symbolic links refused).
fn read_pack(path: &Path) -> anyhow::Result<ledcast_pack::Pack> {
    let limits = ledcast_pack::PackLimits::default();
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let pack = if meta.is_dir() {
        let mut files = Vec::new();
        read_pack_dir(path, "", &mut files, limits.max_entries)?;
        ledcast_pack::open_dir(files, &limits)
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        ledcast_pack::open_zip(&bytes, &limits)
    };
    pack.with_context(|| format!("refusing pack {}", path.display()))
}

fn read_pack_dir(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<(String, Vec<u8>)>,
    max_entries: usize,
) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name
            .to_str()
            .with_context(|| format!("{} has a non-UTF-8 name", entry.path().display()))?;
        let relative = format!("{prefix}{name}");
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            bail!(
                "{} is a symbolic link; packs may only contain regular files",
                entry.path().display()
            );
        } else if kind.is_dir() {
            read_pack_dir(&entry.path(), &format!("{relative}/"), files, max_entries)?;
        } else {
            if files.len() >= max_entries {
                bail!("pack has more than {max_entries} files");
            }
            let bytes = std::fs::read(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            files.push((relative, bytes));
        }
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
