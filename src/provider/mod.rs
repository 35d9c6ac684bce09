//! Configuration providers: where the model comes from. Today a YAML file;
//! a Kubernetes provider will lower its resources into the same model.
pub mod file;
