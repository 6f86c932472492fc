#!/bin/bash
# Alternated A/B benchmark runs, each in its own process, in turn, so that
# every variant meets the machine in the same states (these VMs are shared
# and noisy: compare medians of several rounds).
#
# usage: benchmarks/ab.sh ROUNDS METRIC "label|test-binary|-bench regex|benchtime" ...
# e.g.   go test -c -o /tmp/storage.test ./storage
#        benchmarks/ab.sh 5 deliveries/s \
#          "one-inbox|/tmp/storage.test|Deliver/writers=16/size=4KiB/sync=batched|2s"
#
# Prints one line per run with METRIC, the process CPU per message where
# the benchmark reports it, the time and the load average. The runs keep
# their files (POSTEL_BENCH_KEEP, see internal/testenv.BenchDir) under
# $BENCH_DIR (default /tmp/postel-ab): deleting them between runs would
# slow the next run's file creation on a journal-less ext4. Remove the
# directory afterwards, a few minutes before any other benchmark.
rounds=$1; metric=$2; shift 2
dir=${BENCH_DIR:-/tmp/postel-ab}
mkdir -p "$dir"
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    IFS='|' read -r label bin regex bt <<< "$spec"
    out=$(POSTEL_BENCH_KEEP=1 TMPDIR="$dir" $bin -test.run XXX -test.bench "$regex" -test.benchtime "$bt" 2>&1 | grep '^Benchmark' | head -1)
    val=$(echo "$out" | awk -v m="$metric" '{for(i=1;i<=NF;i++) if($(i+1)==m) print $i}')
    cpu=$(echo "$out" | awk '{for(i=1;i<=NF;i++) if($(i+1)=="cpu-us/msg") print $i}')
    echo "round=$r $label $metric=$val cpu-us/msg=$cpu $(date -u +%H:%M:%S) load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
