#!/usr/bin/env bash
# The teledsp-relay container image: a static (musl) binary in an image
# built FROM scratch (deploy/container/Dockerfile.relay) with buildah,
# then run with podman as a fleet would run it (non-root, read-only root
# filesystem), health-checked, and stopped with SIGTERM to watch it drain.
# Installs what it needs (rustup's musl target; Debian's musl-tools,
# buildah, podman, runc).
#
#   bash scripts/image.sh            # build, run, check, stop
#   IMAGE_TAG=teledsp-relay:dev bash scripts/image.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${IMAGE_TAG:-localhost/teledsp-relay:$(git describe --always --dirty 2>/dev/null || echo dev)}"
target=x86_64-unknown-linux-musl

need=()
for p in musl-tools buildah podman runc; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  (apt-get update -qq && apt-get install -y -qq "${need[@]}") >/dev/null
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

echo "==> the static binary ($target, release)"
cargo build --release -q --target "$target" -p teledsp-relay --bin teledsp-relay
bin="target/$target/release/teledsp-relay"
if ! file "$bin" | grep -q 'static'; then
  echo "$bin is dynamically linked: a FROM scratch image cannot run it ($(file -b "$bin"))" >&2
  exit 1
fi

echo "==> the image ($tag), buildah, docker format (OCI drops HEALTHCHECK)"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
# Without its debug information (the workspace's release profile keeps it for
# profiling).
strip -o "$ctx/teledsp-relay" "$bin"
echo "$(file -b "$bin" | cut -d, -f1-4): $(du -h "$ctx/teledsp-relay" | cut -f1) stripped"
buildah bud -q --format docker -f deploy/container/Dockerfile.relay -t "$tag" "$ctx" >/dev/null
buildah inspect --type image --format '{{.Docker.Config.User}} {{.Docker.Config.Healthcheck.Test}}' "$tag"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep teledsp-relay | head -1

echo "==> run it: non-root, read-only root filesystem"
# This sandbox (a Firecracker VM without CAP_SYS_RESOURCE, cgroups v1 with
# an empty v2 hierarchy beside it) refuses what podman does by default:
# crun cannot run with hybrid cgroups, and raising RLIMIT_NOFILE/NPROC to
# podman's defaults is not permitted. runc, the cgroupfs manager, and
# limits at or under the current ones get past both; host networking
# avoids the network setup. On a normal host none of this is needed.
pm() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }
port=18080
name="teledsp-relay-check-$$"
# --no-healthcheck: podman's periodic checks need systemd (none here); the
# image's HEALTHCHECK command is run below with exec instead.
pm run -d --name "$name" --network host --read-only --no-healthcheck \
  --ulimit "nofile=$(ulimit -n):$(ulimit -Hn)" --ulimit nproc=4096:4096 \
  "$tag" serve --listen "127.0.0.1:$port" --insecure-no-signature --pre-stop 1 --drain-timeout 3 >/dev/null
cleanup() { pm rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$ctx"; }
trap cleanup EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "GET /healthz: $(curl -fsS "http://127.0.0.1:$port/healthz")"
uid=$(pm inspect --format '{{.Config.User}}' "$name")
echo "running as $uid"
# The image's own HEALTHCHECK command, run inside the container.
pm exec "$name" /teledsp-relay health --url "http://127.0.0.1:$port/healthz"
echo "HEALTHCHECK command: exit 0"
curl -fsS "http://127.0.0.1:$port/metrics" | grep -m1 '^teledsp_relay_active_calls'

echo "==> SIGTERM: /healthz red at once, then the drain"
pm kill --signal TERM "$name" >/dev/null
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
echo "GET /healthz after SIGTERM: $code"
[ "$code" = 503 ] || { echo "expected 503 while draining" >&2; exit 1; }
status=$(pm wait "$name")
echo "exit status: $status"
pm logs "$name" 2>&1 | tail -4
[ "$status" = 0 ] || exit 1
echo "image OK: $tag"
