#!/usr/bin/env bash
# The one prepared GPU check of issue 11 (what it measures: bench/gpu_check.py). `make gpu-check`.
#
# Writes gpu_check.json, gpu_check.md and gpu_check.log into $OUT when set, else bench/results/.
# Under 8 minutes on one H100/H200 (the steps share a 450-s budget; override: GPU_CHECK_BUDGET_S).
#
# Python: the first of $GPU_CHECK_PYTHON, .venv-gpu/bin/python, .venv/bin/python, python3 whose torch
# sees the GPU. `make` builds .venv with the CPU build of torch (and at 1.6 GB it cannot travel to a
# device machine anyway), so on a GPU machine this is normally the image's python3 with its CUDA
# torch. The project's other dependencies that this Python lacks are installed into .venv-gpu, a
# venv layered over it (the base Python is never changed), from wheels in .whl/ when that folder
# exists, else from the network. A machine that reaches no network needs the wheels carried along:
# run `make gpu-wheels` on a networked machine and carry .whl/ (git-ignored) with the checkout.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
OUT_DIR="${OUT:-bench/results}"
fail() {
    echo "gpu-check: $*" >&2
    exit 2
}

# 1. A CUDA GPU, checked first so that a machine without one fails in a second.
command -v nvidia-smi >/dev/null 2>&1 ||
    fail "no CUDA GPU: nvidia-smi is not installed (no NVIDIA driver). Run this on a machine with an NVIDIA GPU; nothing was measured."
nvidia-smi -L 2>/dev/null | grep -q '^GPU ' ||
    fail "no CUDA GPU: nvidia-smi lists no GPU. Nothing was measured."

# 2. A Python whose torch is a CUDA build and sees the GPU.
BASE=""
for candidate in "${GPU_CHECK_PYTHON:-}" .venv-gpu/bin/python .venv/bin/python python3; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
        BASE="$candidate"
        break
    fi
done
[ -n "$BASE" ] || fail "a GPU is here, but no Python with a CUDA build of torch that sees it (tried \
\$GPU_CHECK_PYTHON, .venv-gpu, .venv, python3; .venv from make holds the CPU build). Set \
GPU_CHECK_PYTHON=/path/to/python."
echo "gpu-check: Python $("$BASE" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)')"

# 3. The project's dependencies: the import names this check needs, and their distributions.
missing() {
    "$1" - <<'EOF'
import importlib.util
need = {
    "numpy": "numpy", "scipy": "scipy", "soundfile": "soundfile", "sklearn": "scikit-learn",
    "yaml": "pyyaml", "pydantic": "pydantic", "rich": "rich", "safetensors": "safetensors",
    "lightning_fabric": "lightning-fabric", "matplotlib": "matplotlib", "transformers": "transformers",
    "pytest": "pytest", "xdist": "pytest-xdist",
}
print(" ".join(dist for module, dist in need.items() if importlib.util.find_spec(module) is None))
EOF
}
PY="$BASE"
NEED="$(missing "$PY")"
if [ -n "$NEED" ]; then
    echo "gpu-check: installing into .venv-gpu: $NEED"
    if [ "$BASE" != ".venv-gpu/bin/python" ]; then
        "$BASE" -m venv .venv-gpu 2>/dev/null || "$BASE" -m venv --without-pip .venv-gpu ||
            fail "cannot create the venv .venv-gpu with $BASE"
        # The base Python's packages (torch, CUDA libraries ...) stay visible, after the venv's own.
        SITE="$(.venv-gpu/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
        "$BASE" -c 'import site; print("import site; " + "; ".join(f"site.addsitedir({p!r})" for p in site.getsitepackages()))' \
            >"$SITE/_gpu_check_base.pth" || fail "cannot link $BASE's packages into .venv-gpu"
        PY=.venv-gpu/bin/python
    fi
    PIP=("$PY" -m pip)
    "$PY" -m pip --version >/dev/null 2>&1 || PIP=("$BASE" -m pip --python "$PY")
    if compgen -G ".whl/*.whl" >/dev/null; then
        # shellcheck disable=SC2086  # NEED is a list of names
        "${PIP[@]}" install -q --no-index --find-links .whl $NEED ||
            fail "cannot install $NEED from the wheels in .whl/ (make gpu-wheels builds the set for Python 3.12)"
    else
        # shellcheck disable=SC2086
        "${PIP[@]}" install -q $NEED ||
            fail "cannot install $NEED: no .whl/ folder and no network. Run 'make gpu-wheels' on a \
networked machine and carry .whl/ along, or carry a Python environment that has them."
    fi
    NEED="$(missing "$PY")"
    [ -z "$NEED" ] || fail "still missing after the install: $NEED"
fi

# 4. The check itself (sslasd from src/, no install needed); a hard stop at 8 minutes.
mkdir -p "$OUT_DIR" || fail "cannot create $OUT_DIR"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
timeout 480 "$PY" bench/gpu_check.py --out "$OUT_DIR" --budget-s "${GPU_CHECK_BUDGET_S:-450}" 2>&1 |
    tee "$OUT_DIR/gpu_check.log"
status=${PIPESTATUS[0]}
[ "$status" -eq 124 ] && echo "gpu-check: stopped at the 8-minute limit" >&2
exit "$status"
