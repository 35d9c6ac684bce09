//! Configuration providers: where the model comes from. A provider yields
//! configuration *values* (the provider-neutral [`GatewayConfig`] plus the
//! origin of each setting), never paths; `app` reloads from a value. The
//! file provider is one implementation, the Kubernetes provider another.

pub mod embedded;
pub mod file;
pub mod kube;
pub mod origin;

use tokio::sync::mpsc;

use crate::config::error::ConfigErrors;
use crate::config::spec::GatewayConfig;

pub use origin::{ObjectRef, Origins};

/// One configuration value and where its settings came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: GatewayConfig,
    pub origins: Origins,
}

/// A source of configuration values.
pub trait Provider: Send {
    /// Short label for logs and reload events (`file`, `kubernetes`).
    fn name(&self) -> &'static str;

    /// The current configuration, read now. Called at start, on every change
    /// notification, on SIGHUP and on an admin reload.
    fn load(&mut self) -> Result<Loaded, ConfigErrors>;

    /// Whether a reload can yield anything new (the embedded config cannot).
    fn reloadable(&self) -> bool {
        true
    }

    /// A channel that receives `()` whenever the source may have changed;
    /// taken once by the app. Providers that never change return `None`.
    fn changes(&mut self) -> Option<mpsc::Receiver<()>>;
}
