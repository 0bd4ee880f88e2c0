#!/usr/bin/env bash
# The whole GPU throughput check, under one time limit: benchmarks/throughput.py on CUDA, fp32
# and bf16, every reconstruction kind's default path (see that file's docstring for the method).
#
# Usage, from the repository root (isovox need not be installed: it runs from src/):
#
#     bash benchmarks/gpu_check.sh DATA_DIR [--wheels DIR] [--limit SECONDS] [--size N] [-- ARGS...]
#
# DATA_DIR holds flyem_fibsem_sample2_250cube_10nm.tif. --wheels DIR: wheels of the Python
# modules isovox needs and the machine lacks: tqdm for any reconstruction; for the blockwise case
# zarr (+ numcodecs, donfig, google-crc32c, packaging, typing_extensions, pyyaml) and dask (+
# cloudpickle, fsspec, partd, locket, toolz, click, importlib_metadata, zipp), binary ones for the
# machine's Python. When one of tqdm, zarr, dask is missing, every wheel in DIR is installed,
# as it is (pip --no-index --no-deps), into a temporary folder put on PYTHONPATH; nothing else is
# touched. Without zarr and dask the blockwise case is skipped (a 'skipped' row says so); without
# tqdm nothing can run and the script stops before the benchmark. --limit: seconds for the benchmark (default 480; the
# models are trained once for both precisions). --size: crop of the cube (default 250, whole; at least 128).
# ARGS go to throughput.py as they are (e.g. --cases slicewise-drcnet,3d-mdcsrn --repeats 3).
#
# Writes throughput_cuda.json, throughput_cuda.md and throughput_cuda.log into $OUT if set, else
# into benchmarks/results/. Both result files are rewritten after every case, so a run stopped
# by the limit keeps the cases it finished. Exit status: the benchmark's (124: the limit hit).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

[[ $# -ge 1 && $1 != -* ]] || usage
DATA_DIR=$1; shift
WHEELS=""; LIMIT=480; SIZE=250; EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --wheels) WHEELS=$2; shift 2 ;;
        --limit) LIMIT=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) usage 0 ;;
        *) echo "gpu_check: unknown option $1" >&2; usage ;;
    esac
done

# paths as given from the caller's folder, before moving to the repository root
DATA_DIR=$(realpath -m "$DATA_DIR"); [[ -z $WHEELS ]] || WHEELS=$(realpath -m "$WHEELS")
cd "$(dirname "$0")/.."
RESULTS=$(realpath -m "${OUT:-benchmarks/results}")
mkdir -p "$RESULTS"
SCRATCH=$(mktemp -d /tmp/isovox-gpu-check.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" ISOVOX_PROGRESS=0

missing() {   # the module names given that python3 cannot import
    for name in "$@"; do python3 -c "import $name" 2>/dev/null || echo "$name"; done
}

install_wheels() {   # every wheel of $WHEELS into $SCRATCH/site, when a module ($@) is missing
    [[ $# -gt 0 && -n $WHEELS ]] || return 0
    echo "missing: $*; installing the wheels of $WHEELS"
    python3 -m pip install --quiet --no-index --no-deps --target "$SCRATCH/site" "$WHEELS"/*.whl \
        || echo "gpu_check: pip could not install the wheels of $WHEELS (continuing)" >&2
    export PYTHONPATH="$PYTHONPATH:$SCRATCH/site"
}

[[ -f $DATA_DIR/flyem_fibsem_sample2_250cube_10nm.tif ]] \
    || { echo "gpu_check: no flyem_fibsem_sample2_250cube_10nm.tif in $DATA_DIR" >&2; exit 2; }
command -v nvidia-smi >/dev/null && nvidia-smi -L || true
python3 -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, \
'| cuda', torch.version.cuda, '| available:', torch.cuda.is_available())"
python3 -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'"

mapfile -t ABSENT < <(missing tqdm zarr dask)
install_wheels "${ABSENT[@]}"
mapfile -t STILL < <(missing numpy scipy skimage tifffile tqdm)
[[ ${#STILL[@]} -eq 0 ]] || { echo "gpu_check: isovox needs ${STILL[*]}; give --wheels DIR" >&2; exit 2; }
[[ -z $(missing zarr dask) ]] || echo "gpu_check: zarr/dask missing: the blockwise case will be skipped"

status=0
timeout --kill-after=15 "$LIMIT" python3 benchmarks/throughput.py --device cuda --precision fp32,bf16 \
    --data "$DATA_DIR" --size "$SIZE" --workdir "$SCRATCH/work" \
    --json "$RESULTS/throughput_cuda.json" --markdown "$RESULTS/throughput_cuda.md" "${EXTRA[@]}" \
    2>&1 | tee "$RESULTS/throughput_cuda.log" || status=${PIPESTATUS[0]}
[[ $status -ne 124 ]] || echo "gpu_check: stopped at the ${LIMIT} s limit; the results hold the cases finished"
exit "$status"
