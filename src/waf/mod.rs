//! The native WAF: a SecLang engine that runs the OWASP Core Rule Set
//! unmodified. Pure building blocks (transformations, operators, body
//! processors) live in their own folders, one file per SecLang name; the
//! parser, rule model, variables, actions and engine sit beside them.
pub mod body;
pub mod engine;
pub mod operator;
pub mod rule;
pub mod seclang;
pub mod transform;
