# syntax=docker/dockerfile:1
# denwa's container image: built in a Rust image, run from a small Debian one as a user without
# privileges. Build and run:
#   docker build -t denwa .
#   docker run --env-file denwa.env -v $PWD/config.toml:/etc/denwa/config.toml:ro -p 8080:8080 denwa
# (secrets only in the environment: DENWA_TWILIO_AUTH_TOKEN, DENWA_API_TOKEN, ...; see .env.example)

# The toolchain the workspace asks for (Cargo.toml: rust-version).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target directory are cache mounts: a rebuild after a source change compiles
# denwa, not its dependencies. `--locked`: exactly the versions Cargo.lock names.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin denwa \
    && cp target/release/denwa /usr/local/bin/denwa

# glibc (denwa is linked against it) and the CA certificates rustls reads for https to Twilio,
# Slack and Discord; nothing else. distroless/cc would be smaller still, but has no package
# manager to add the certificates' updates with.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin denwa
COPY --from=build /usr/local/bin/denwa /usr/local/bin/denwa
COPY config.toml /etc/denwa/config.toml
USER 10001:10001
ENV DENWA_CONFIG=/etc/denwa/config.toml \
    DENWA_SERVER_LISTEN=0.0.0.0:8080 \
    DENWA_LOG_FORMAT=json
EXPOSE 8080
# SIGTERM drains (at most 5 s for requests, 3 s for background work): give it 10 s before
# SIGKILL, e.g. `docker stop -t 15`, Kubernetes' default terminationGracePeriodSeconds (30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/denwa"]
CMD ["serve"]
