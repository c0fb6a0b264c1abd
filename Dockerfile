# The Secure Movie Service image, built with a container engine. `pipeline build` assembles the
# same image without one (no daemon, reproducible digest); this file is for people who use
# docker/buildx/podman, and it is held to the same rules by `pipeline scan` (policy/repo):
#   - every base image pinned by digest: Dependabot (.github/dependabot.yml, ecosystem docker)
#     proposes the new tag and digest together when golang:1.26 moves;
#   - the compile step uses exactly the flags and environment of pipeline/build
#     (tests/scan_dockerfile_test.go parses both and fails when they drift);
#   - the shipped stage is scratch: the static movies binary and nothing else (no shell, no
#     package manager), run as the numeric non-root user 65532:65532.
# No "# syntax=" line: an unpinned frontend image would be fetched at build time.
#
#   docker build --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" -t movies .

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# The pinned build environment of pipeline/build.Env: static, the service module alone,
# read-only module graph, no VCS stamping, and the toolchain go.mod names: the standard library
# of the 1.26.8 in this image has called vulnerabilities (make vuln), so the go command fetches
# go1.26.10 from the module proxy (checksum-verified) until Dependabot moves the base image.
ENV CGO_ENABLED=0 \
    GOOS=$TARGETOS \
    GOARCH=$TARGETARCH \
    GOWORK=off \
    GOFLAGS="-mod=readonly -buildvcs=false" \
    GOTOOLCHAIN=go1.26.10
WORKDIR /src/service
# The service module has no requirements (service/go.mod lists none), so there is nothing to
# download: the context holds only service/ (.dockerignore).
COPY service/ ./
RUN --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags=-buildid= -o /out/movies ./cmd/movies

FROM scratch
COPY --from=build /out/movies /movies
USER 65532:65532
ENV MOVIES_ADDR=0.0.0.0:8080
EXPOSE 8080
# No shell in the image: the binary probes itself (GET /healthz, exit 0 only on 200).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/movies", "healthcheck"]
LABEL org.opencontainers.image.source="https://github.com/secure-movie-service/sms" \
      org.opencontainers.image.title="movies"
ENTRYPOINT ["/movies"]
