# Portcullis: a static (musl) binary on distroless/static, non-root, no shell.
# Build:  docker build -t portcullis .
# Run it with a read-only root filesystem (see deploy/manifests/deployment.yaml).

FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
# Dependencies first, so source edits rebuild only the crate.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src bench && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && printf 'fn main() {}\n' > bench/limits.rs \
 && cargo fetch --locked
COPY src ./src
COPY examples ./examples
COPY bench ./bench
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin portcullis \
 && cp target/x86_64-unknown-linux-musl/release/portcullis /portcullis

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /portcullis /usr/local/bin/portcullis
USER 65532:65532
EXPOSE 8080 8443 9901
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["run", "--provider", "kubernetes"]
