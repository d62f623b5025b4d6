# syntax=docker/dockerfile:1
# One image for all of Warren's binaries: dispatcher, worker and client, in /usr/local/bin.
# The command picks one: `docker run warren dispatcher`, `... worker`, `... client status ID`.
#   docker build -t warren .

# --- build ------------------------------------------------------------------------------
FROM golang:1.26-alpine AS build
WORKDIR /src
# Dependencies first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/dispatcher ./cmd/worker ./cmd/client

# --- run --------------------------------------------------------------------------------
# Alpine rather than distroless: its busybox wget serves the dispatcher's health check.
FROM alpine:3.22
RUN adduser -D -H -u 10001 warren
COPY --from=build /out/ /usr/local/bin/
USER warren
EXPOSE 8080
CMD ["dispatcher"]
