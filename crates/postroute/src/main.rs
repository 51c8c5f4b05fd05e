//! The `postroute` command. Each subcommand is a thin call into `postroute-server`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use postroute_app::Config;
use postroute_server::Role;
use postroute_server::telemetry;

/// PostRoute: plan, review, schedule and publish social-media posts.
#[derive(Debug, Parser)]
#[command(name = "postroute", version, about)]
struct Cli {
    /// Configuration file (default: ./postroute.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API and, unless worker.run_in_serve is false, the worker (applies pending
    /// migrations first).
    Serve,
    /// Run only the background worker (email delivery).
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Encrypted backups of the database (key: backup.key; directory: backup.dir).
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Staff accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Write an encrypted copy of the whole database into backup.dir.
    Create,
    /// List the backups in backup.dir, oldest first.
    List,
    /// Read a backup through: every chunk authenticated, every table present.
    Verify {
        /// The backup file.
        file: PathBuf,
    },
    /// Restore a backup into the configured database, which must be empty (freshly created);
    /// all of it or nothing.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Delete the backups older than backup.retention_days (30).
    Prune,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Make the account registered with EMAIL PostRoute staff (system event log, admin API).
    GrantStaff {
        /// The account's email address.
        email: String,
    },
    /// Withdraw staff status from the account registered with EMAIL; effective at its next
    /// request.
    RevokeStaff {
        /// The account's email address.
        email: String,
    },
    /// End the pause on a platform's publishing now (after X answered 402 and the app's
    /// credits were topped up), instead of waiting for worker.x_credits_pause_mins.
    ResumePublishing {
        /// The platform: x, facebook or instagram.
        provider: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a new random 32-byte key, base64, for any of the *_KEY settings.
    Generate,
    /// Re-seal every channel token under encryption.oauth_key (old keys in
    /// encryption.previous_oauth_keys). Safe while servers run; resumable.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it with secrets redacted.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, the reason chain joined: deployers grep for it.
            eprintln!("postroute: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Keys { command: KeysCommand::Generate } = cli.command {
        let key = postroute_app::config::generate_key()
            .map_err(|error| anyhow::anyhow!("no randomness available: {error}"))?;
        println!("{}", secrecy::ExposeSecret::expose_secret(&key));
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config { command: ConfigCommand::Check } => {
            print!("{}", config.to_redacted_toml()?);
            Ok(())
        }
        Command::Migrate => runtime()?.block_on(migrate(config)),
        Command::Serve => runtime()?.block_on(run_until_signal(config, Role::Serve)),
        Command::Worker => runtime()?.block_on(run_until_signal(config, Role::Worker)),
        Command::Keys { command: KeysCommand::Rotate } => runtime()?.block_on(rotate_keys(config)),
        Command::Backup { command } => runtime()?.block_on(backup(config, command)),
        Command::Admin { command: AdminCommand::GrantStaff { email } } => {
            runtime()?.block_on(set_staff(config, &email, true))
        }
        Command::Admin { command: AdminCommand::RevokeStaff { email } } => {
            runtime()?.block_on(set_staff(config, &email, false))
        }
        Command::Admin { command: AdminCommand::ResumePublishing { provider } } => {
            runtime()?.block_on(resume_publishing(config, &provider))
        }
        Command::Keys { command: KeysCommand::Generate } => {
            unreachable!("handled before loading configuration")
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn run_until_signal(config: Config, role: Role) -> anyhow::Result<()> {
    telemetry::init(&config.log);
    let signal = postroute_server::shutdown_signal().context("cannot listen for signals")?;
    let running = postroute_server::start_role(config, role).await?;
    signal.await;
    running.begin_shutdown();
    running.wait().await
}

async fn backup(config: Config, command: BackupCommand) -> anyhow::Result<()> {
    use postroute_app::admin::backup;
    use secrecy::ExposeSecret;
    telemetry::init(&config.log);
    let dir = config.backup.dir.clone().unwrap_or_else(|| config.data_dir.join("backups"));
    let key = || -> anyhow::Result<[u8; 32]> {
        let keys = postroute_app::config::Keys::resolve(&config)?;
        Ok(*keys.backup_key.expose_secret())
    };
    match command {
        BackupCommand::Create => {
            let key = key()?;
            postroute_app::migrate(&config).await?;
            let store = postroute_app::open_store(&config).await?;
            let outcome = backup::create(&store, &key, &dir).await;
            store.close().await;
            let (file, counts) = outcome?;
            println!(
                "{} ({} rows, {} bytes)",
                file.path.display(),
                counts.total(),
                file.size_bytes
            );
        }
        BackupCommand::List => {
            for file in backup::list(&dir).await? {
                println!(
                    "{}\t{}\t{}",
                    file.taken_at.to_rfc3339(),
                    file.size_bytes,
                    file.path.display()
                );
            }
        }
        BackupCommand::Verify { file } => {
            let (header, counts) = backup::verify(&file, &key()?).await?;
            println!(
                "{} is intact: {} backup taken {}, schema version {}, {} rows",
                file.display(),
                header.dialect,
                header.created_at.to_rfc3339(),
                header.schema_version,
                counts.total()
            );
        }
        BackupCommand::Restore { file } => {
            let key = key()?;
            postroute_app::migrate(&config).await?;
            let store = postroute_app::open_store(&config).await?;
            let outcome = backup::restore(&store, &file, &key).await;
            store.close().await;
            let counts = outcome?;
            println!("restored {} rows from {}", counts.total(), file.display());
        }
        BackupCommand::Prune => {
            let retention = config.backup.retention_days;
            for file in backup::prune(&dir, retention).await? {
                println!("removed {}", file.path.display());
            }
        }
    }
    Ok(())
}

async fn set_staff(config: Config, email: &str, staff: bool) -> anyhow::Result<()> {
    use postroute_app::{Refusal, admin::staff};
    telemetry::init(&config.log);
    postroute_app::migrate(&config).await?;
    let store = postroute_app::open_store(&config).await?;
    let outcome = staff::set_staff(&store, email, staff).await;
    store.close().await;
    match outcome {
        Ok(()) if staff => println!("{email} is now staff"),
        Ok(()) => println!("{email} is no longer staff"),
        Err(Refusal::NotFound) => anyhow::bail!("no account is registered with {email}"),
        Err(Refusal::Invalid(_)) => anyhow::bail!("{email} is not an email address"),
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

async fn resume_publishing(config: Config, provider: &str) -> anyhow::Result<()> {
    use postroute_app::{Refusal, admin::publishing};
    telemetry::init(&config.log);
    postroute_app::migrate(&config).await?;
    let store = postroute_app::open_store(&config).await?;
    let outcome = publishing::resume_publishing(&store, provider).await;
    store.close().await;
    match outcome {
        Ok(true) => println!("{provider} publishing resumed"),
        Ok(false) => println!("{provider} publishing was not paused"),
        Err(Refusal::Invalid(_)) => {
            anyhow::bail!("{provider} is not a platform: use x, facebook or instagram")
        }
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config.log);
    postroute_app::migrate(&config).await?;
    println!("migrations applied to {}", store_label(&config));
    Ok(())
}

fn store_label(config: &Config) -> &'static str {
    if config.database_url().starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" }
}

async fn rotate_keys(config: Config) -> anyhow::Result<()> {
    use postroute_app::admin::keys::{RotationKeys, RotationReport, rotate};
    telemetry::init(&config.log);
    let keys = postroute_app::config::Keys::resolve(&config)?;
    postroute_app::migrate(&config).await?;
    let store = postroute_app::open_store(&config).await?;
    let rotation = RotationKeys::from_keys(&keys);
    let report = rotate(&store, &rotation, |progress| {
        eprintln!(
            "re-sealed so far: {} channel(s), {} email(s), {} OAuth state(s), {} pending connection(s)",
            progress.channels.resealed,
            progress.outbox.resealed,
            progress.oauth_states.resealed,
            progress.pending_connections.resealed,
        );
    })
    .await?;
    store.close().await;
    println!(
        "sealed under OAuth key {} (and keys derived from it):",
        rotation.oauth.current_key_id()
    );
    for (what, counts) in [
        ("channel tokens", report.channels),
        ("queued emails", report.outbox),
        ("OAuth states", report.oauth_states),
        ("pending Meta connections", report.pending_connections),
    ] {
        println!(
            "  {what}: {} re-sealed, {} changed meanwhile, {} do not open",
            counts.resealed, counts.skipped, counts.unopened
        );
    }
    println!("{}", RotationReport::link_note(config.storage.public_link_ttl_secs));
    if report.unopened() > 0 {
        anyhow::bail!(
            "{} sealed value(s) open under no configured key and were left as they are; if their \
             key is not in encryption.previous_oauth_keys, add it and run again",
            report.unopened()
        );
    }
    Ok(())
}
