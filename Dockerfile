# otelcol-exemplar container image.
#
#   docker build -t otelcol-exemplar:0.1.0 .
#
# The builder stage runs `make build` (ocb, see builder-config.yaml); the
# runtime image holds only the static binary, CA certificates and the
# default configuration, and runs as a non-root user.

# The Debian-based golang image brings git and make.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, in their own layer: source edits do not download them again.
COPY go.mod go.sum ./
COPY internal/tools/go.mod internal/tools/go.sum ./internal/tools/
RUN go mod download && go mod download -modfile=internal/tools/go.mod
COPY . .
# A static binary: the runtime image has no C library.
ENV CGO_ENABLED=0
RUN make build

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/_build/otelcol-exemplar /otelcol-exemplar
# The default configuration listens on localhost only; deployments pass their
# own with --config (see examples/ and deploy/kubernetes/).
COPY --from=build /src/config.yaml /etc/otelcol-exemplar/config.yaml
# Numeric, so Kubernetes can verify runAsNonRoot without a passwd file.
USER 10001:10001
# OTLP gRPC, OTLP HTTP, health_check, internal telemetry (Prometheus).
EXPOSE 4317 4318 13133 8888
ENTRYPOINT ["/otelcol-exemplar"]
CMD ["--config=/etc/otelcol-exemplar/config.yaml"]
