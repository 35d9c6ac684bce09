//! The `portcullis` command: run the gateway, validate a configuration, or
//! verify an audit log's hash chain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis::app;
use portcullis::config::load;
use portcullis::provider::Provider;
use portcullis::provider::embedded::EmbeddedProvider;
use portcullis::provider::file::FileProvider;

/// mimalloc instead of glibc's malloc: fewer instructions per request and
/// cheap frees of memory allocated on another thread (see docs/decisions.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The embedded default: the quickstart config, so `portcullis run` works
/// with nothing else on the machine.
const QUICKSTART: &str = include_str!("../examples/quickstart.yaml");

#[derive(Parser)]
#[command(name = "portcullis", version, about = "A security-first edge gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// YAML configuration file (watched and hot-reloaded). Without it the
        /// embedded quickstart configuration is used.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Log format for the gateway's own logs on stderr.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        log_format: String,
        /// Worker threads (default: one per CPU core).
        #[arg(long)]
        workers: Option<usize>,
        /// Where the configuration comes from: `file` (`--config`, or the
        /// embedded quickstart) or `kubernetes` (Ingresses; `--config`, when
        /// given, is the base: admin, server, logging, extra policies).
        #[arg(long, default_value = "file", value_parser = ["file", "kubernetes"])]
        provider: String,
        #[command(flatten)]
        kube: Box<KubeArgs>,
    },
    /// Translate another controller's objects into Portcullis configuration.
    Migrate {
        #[command(subcommand)]
        from: MigrateCommand,
    },
    /// Check a configuration file and print every error with its position.
    Validate {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Audit-log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

/// Settings of `--provider kubernetes`.
#[derive(clap::Args)]
struct KubeArgs {
    /// IngressClass name served (`spec.ingressClassName` or the legacy
    /// `kubernetes.io/ingress.class` annotation).
    #[arg(long, default_value = "portcullis")]
    ingress_class: String,
    /// `spec.controller` of our IngressClass (for the default-class rule).
    #[arg(long, default_value = "portcullis.dev/ingress-controller")]
    controller_name: String,
    /// `spec.controllerName` of the GatewayClasses served (Gateway API).
    #[arg(long, default_value = "portcullis.dev/gateway-controller")]
    gateway_controller: String,
    /// Watched namespace (repeat for several); all namespaces when absent.
    #[arg(long = "watch-namespace")]
    namespaces: Vec<String>,
    /// Plain HTTP listener address.
    #[arg(long, default_value = "0.0.0.0:8080")]
    http_address: String,
    /// HTTPS listener address (bound once an Ingress has a TLS Secret).
    #[arg(long, default_value = "0.0.0.0:8443")]
    https_address: String,
    /// IP or host name written to Ingress `status.loadBalancer`; no status
    /// is written without it.
    #[arg(long)]
    publish_address: Option<String>,
}

#[derive(Subcommand)]
enum MigrateCommand {
    /// Read Ingress YAML (`kubectl get ingress -A -o yaml`, optionally with
    /// Services and TLS Secrets) and print the per-annotation report and
    /// the Portcullis configuration. No cluster needed.
    IngressNginx {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain of a log file written with `hash_chain: true`;
    /// exits non-zero and names the first broken link if there is one.
    Verify { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { config } => validate(&config),
        Command::Audit {
            command: AuditCommand::Verify { file },
        } => audit_verify(&file),
        Command::Run {
            config,
            log_format,
            workers,
            provider,
            kube,
        } => run(config, &log_format, workers, &provider, kube),
        Command::Migrate {
            from: MigrateCommand::IngressNginx { files },
        } => migrate(&files),
    }
}

fn migrate(files: &[PathBuf]) -> ExitCode {
    use portcullis::provider::kube::migrate;
    match migrate::translate_files(files).and_then(|t| migrate::render(&t)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn validate(path: &std::path::Path) -> ExitCode {
    match load::load_file(path) {
        Ok(config) => {
            let warnings = portcullis::tls::validate::warnings(&config)
                .into_iter()
                .chain(portcullis::config::validate_auth::warnings(&config));
            for warning in warnings {
                eprintln!("{}: warning: {warning}", path.display());
            }
            // Rule files are parsed as `run` would (errors name file:line).
            let mut failed = false;
            for (i, policy) in config.policies.iter().enumerate() {
                if let Some(waf) = &policy.waf
                    && let Err(e) = portcullis::policy::waf::Waf::compile(waf)
                {
                    eprintln!("{}: policies[{i}].waf: {e}", path.display());
                    failed = true;
                }
            }
            if failed {
                return ExitCode::FAILURE;
            }
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{} error(s)", errors.0.len());
            ExitCode::FAILURE
        }
    }
}

fn audit_verify(path: &std::path::Path) -> ExitCode {
    use portcullis::observe::sink::chain::{Verdict, verify};
    match verify(path) {
        Ok(Verdict::Intact { records, last }) => {
            println!(
                "{}: ok, {records} record(s), last hash {last}",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Ok(Verdict::Broken { line, why }) => {
            println!("{}:{line}: chain broken: {why}", path.display());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

fn run(
    config: Option<PathBuf>,
    log_format: &str,
    workers: Option<usize>,
    provider_name: &str,
    kube: Box<KubeArgs>,
) -> ExitCode {
    init_logging(log_format);
    // One worker runs on a current-thread runtime: no work-stealing
    // machinery on the request path (the nginx-style single worker).
    let mut builder = match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n.max(1));
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = runtime.block_on(async {
        let mut provider: Box<dyn Provider> = match (provider_name, config) {
            ("kubernetes", base) => Box::new(kubernetes(base, *kube).await?),
            (_, Some(path)) => Box::new(FileProvider::new(path)),
            (_, None) => Box::new(EmbeddedProvider::new(QUICKSTART, "<embedded quickstart>")),
        };
        let initial = provider.load().map_err(|e| e.to_string())?;
        app::run(provider, initial).await
    });
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The Kubernetes provider, started and synced.
async fn kubernetes(
    base: Option<PathBuf>,
    args: KubeArgs,
) -> Result<portcullis::provider::kube::KubeProvider, String> {
    use portcullis::provider::kube::{KubeProvider, translate::Settings};
    let base = match base {
        Some(path) => load::load_file(&path).map_err(|e| e.to_string())?,
        None => Settings::default().base,
    };
    let settings = Settings {
        class: args.ingress_class,
        controller: args.controller_name,
        gateway_controller: args.gateway_controller,
        namespaces: args.namespaces,
        http_address: args.http_address,
        https_address: args.https_address,
        base,
        ..Settings::default()
    };
    KubeProvider::start(
        settings,
        args.publish_address,
        std::time::Duration::from_secs(60),
    )
    .await
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
