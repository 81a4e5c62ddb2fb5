# Roster's container image: built from the locked dependencies in a Rust image, run
# as a non-root user in a slim Debian with nothing else of a toolchain.
#
#   docker build -t roster .
#   docker run -d -p 8080:8080 -v roster-data:/var/lib/roster \
#     -e ROSTER_BOOTSTRAP_TOKEN="$(openssl rand -hex 24)" roster
#
# Both images follow Debian stable, so the binary finds the glibc it was linked
# against; pin both to one release (rust:1-slim-trixie, debian:trixie-slim) to keep
# them in step when stable moves. docs/operations.md, "A container image".

FROM rust:1-slim AS builder
WORKDIR /src
# The manifest and the lock first: the dependencies compile once, in a layer of
# their own that a change of Roster's own code does not rebuild.
COPY Cargo.toml Cargo.lock ./
# (Cargo wants every target it declares to exist: the benches get placeholders too.)
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && sed -n '/^\[\[bench\]\]/,/^$/s/^name = "\(.*\)"$/\1/p' Cargo.toml \
       | while read -r bench; do echo 'fn main() {}' > "benches/$bench.rs"; done \
    && cargo build --release --locked \
    && rm -rf src benches
COPY . .
# Newer than the placeholders, so that cargo rebuilds Roster itself.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -m 0755 target/release/roster /usr/local/bin/roster

FROM debian:stable-slim
# CA certificates are not needed: mail over TLS checks servers against the roots
# built into the binary (webpki-roots).
RUN groupadd --system --gid 10001 roster \
    && useradd --system --uid 10001 --gid roster --home-dir /var/lib/roster \
         --shell /usr/sbin/nologin roster \
    && mkdir -p /var/lib/roster \
    && chown roster:roster /var/lib/roster \
    && chmod 0750 /var/lib/roster
COPY --from=builder /usr/local/bin/roster /usr/local/bin/roster
USER roster
WORKDIR /var/lib/roster
ENV ROSTER_LISTEN=0.0.0.0:8080 \
    ROSTER_DATABASE_URL=sqlite:///var/lib/roster/roster.db
VOLUME /var/lib/roster
EXPOSE 8080
# No HEALTHCHECK: the image has no HTTP client to ask /healthz with (curl would add
# megabytes and a tool an intruder could use). Let the orchestrator probe GET /healthz
# (alive) and GET /readyz (the database answers) over the network instead.
STOPSIGNAL SIGTERM
ENTRYPOINT ["roster"]
CMD ["serve"]
