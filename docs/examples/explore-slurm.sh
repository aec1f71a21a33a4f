#!/bin/bash
# One gupfast explore search as a Slurm job array: array task I is shard I of N. Shard 0
# runs the coordinator on PORT and writes its host name to a file in the shared directory;
# the other shards wait for that file and connect. All tasks of the array must be able to
# run at the same time (here: a limit of N running tasks, %16, on as many nodes as Slurm
# gives), because the shards share the work as they go. Each task writes its part; the
# last command merges them (run it once every task has finished, e.g. in a job that depends
# on this one: sbatch --dependency=afterany:JOBID --wrap "gupfast explore --merge ...").
#
#   sbatch docs/examples/explore-slurm.sh
#SBATCH --job-name=gupfast-explore
#SBATCH --array=0-15%16
#SBATCH --cpus-per-task=8
#SBATCH --time=01:00:00
#SBATCH --output=parts/%a.log
set -eu
N=16
PORT=7400
SCENARIO=pae-aba
OPTS="--strategy rcu --tlb ipi --bound 3"
DIR=${SLURM_SUBMIT_DIR}/parts
mkdir -p "$DIR"
I=${SLURM_ARRAY_TASK_ID}
HOSTFILE=$DIR/coordinator.${SLURM_ARRAY_JOB_ID}
if [ "$I" -eq 0 ]; then
  hostname -f >"$HOSTFILE"
  HOST=localhost
else
  for _ in $(seq 600); do [ -s "$HOSTFILE" ] && break; sleep 1; done
  HOST=$(cat "$HOSTFILE")
fi
# --jobs: a worker per CPU Slurm gave this task.
gupfast explore "$SCENARIO" $OPTS --jobs "${SLURM_CPUS_PER_TASK:-1}" \
  --shard "$I/$N" --coordinator "$HOST:$PORT" --connect-timeout 900 --json "$DIR/part$I.json"
# When all N parts are there:
#   gupfast explore --merge parts/part*.json --json parts/merged.json
