//! Compile the model into a runtime snapshot.
