//! The embedded provider: a configuration compiled into the binary (the
//! quickstart), loaded once and never changing.

use tokio::sync::mpsc;

use crate::config::error::ConfigErrors;
use crate::config::load;
use crate::provider::{Loaded, Provider};

pub struct EmbeddedProvider {
    text: &'static str,
    label: &'static str,
}

impl EmbeddedProvider {
    pub fn new(text: &'static str, label: &'static str) -> Self {
        Self { text, label }
    }
}

impl Provider for EmbeddedProvider {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn load(&mut self) -> Result<Loaded, ConfigErrors> {
        load::load_document(self.text, self.label)
    }

    fn reloadable(&self) -> bool {
        false
    }

    fn changes(&mut self) -> Option<mpsc::Receiver<()>> {
        None
    }
}
