//! Socket binding.
