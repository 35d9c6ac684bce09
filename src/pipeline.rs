//! The per-request pipeline.
