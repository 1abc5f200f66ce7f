#!/bin/bash
# Classify a large collection with a SLURM job array: each array task runs `ecgnet drive` on
# its own shard of the records (split by record name, the same on every node) into one shared
# OUTPUTS folder; `--skip-existing` makes a resubmitted task pass over the records it finished.
#
#   sbatch --array=0-99 scripts/slurm_drive.sh MODEL DATA OUTPUTS
#
# MODEL, DATA and OUTPUTS must be on a file system every node sees. Set PYTHON to the
# interpreter of the environment ecgnet is installed in (default: python). The task's exit
# status is drive's: 0 all its records classified, 1 some failed (named in its log), 2 none.
#SBATCH --job-name=ecgnet-drive
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=04:00:00
#SBATCH --output=ecgnet-drive-%A_%a.log
set -euo pipefail
if [ $# -ne 3 ]; then
    echo "usage: sbatch --array=0-N scripts/slurm_drive.sh MODEL DATA OUTPUTS" >&2
    exit 2
fi
: "${SLURM_ARRAY_TASK_ID:?run this as a job array: sbatch --array=0-N ...}"
part=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0} + 1))
count=${SLURM_ARRAY_TASK_COUNT:?this SLURM sets no SLURM_ARRAY_TASK_COUNT}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-4}
exec "${PYTHON:-python}" -m ecgnet drive "$1" "$2" "$3" --shard "$part/$count" --skip-existing
