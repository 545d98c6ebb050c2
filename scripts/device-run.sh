#!/usr/bin/env bash
# One device call: every gpu test and example (scripts/device-test; TJ_SKIP_TESTS=1 skips them),
# the gtest filters in $TJ_GTEST ("program:filter ..."), the steps named in $TJ_BENCH (stage2,
# stage2_l1, stage2_bytes, stage2_tile, stage2_exact, stage2_global_a, stage2_sort, stage2_sort_zero, configs, tune, gemm, compile, baseline, warm_start; default "stage2 stage2_l1"; a
# tune step's table, see $TJ_TUNE below, is used by the benches after it), then Nsight Compute on
# the stage-2 token counts in $TJ_NCU (and the per-SASS-line counts of $TJ_NCU_SASS) when ncu is there. Everything is packed into
# $OUT/results.tar.xz after every step (the call returns few files).
set -uo pipefail
cd "$(dirname "$0")/.."
final=${OUT:-device-report}
work=$(mktemp -d)
export OUT=$work
# Packed after every step, so a run stopped at its time limit still returns what it finished.
pack() { tar -C "$work" -cJf "$final/results.tar.xz.part" . && mv "$final/results.tar.xz.part" "$final/results.tar.xz"; }
[ -n "${TJ_SKIP_TESTS:-}" ] || bash scripts/device-test
[ -f bundle/lib/libtilejit.so ] || xz -dk bundle/lib/libtilejit.so.xz
export LD_LIBRARY_PATH=$PWD/bundle/lib TILEJIT_DEVICE=cuda TILEJIT_CACHE_DIR=$PWD/.tilejit-cache
# $TJ_GTEST: "test_program:filter ..." run instead of (or besides) the full suite, logs kept.
for spec in ${TJ_GTEST:-}; do
  bundle/bin/${spec%%:*} --gtest_filter="${spec#*:}" --gtest_brief=1 >"$work/${spec%%:*}.log" 2>&1
  echo "${spec}: rc $?" | tee -a "$work/gtest.txt"
done
pack
for b in ${TJ_BENCH:-stage2 stage2_l1}; do
  case $b in
    # After a tune step, stage2 writes moe_stage2_tuned.json / bench_stage2_tuned.txt (the A/B stays).
    stage2) sfx=${TILEJIT_MOE_CONFIGS:+_tuned}
            bundle/bin/bench_moe_stage2 --out "$work" --json "moe_stage2$sfx.json" 2>&1 | tee "$work/bench_stage2$sfx.txt" ;;
    stage2_l1) bundle/bin/bench_moe_stage2 --out "$work" --json moe_stage2_l1.json --l1-weights 2>&1 | tee "$work/bench_stage2_l1.txt" ;;
    stage2_bytes) bundle/bin/bench_moe_stage2 --out "$work" --json moe_stage2_bytes.json --byte-scales 2>&1 | tee "$work/bench_stage2_bytes.txt" ;;
    stage2_tile) bundle/bin/bench_moe_stage2 --out "$work" --json moe_stage2_tile.json --tile-epilogue 2>&1 | tee "$work/bench_stage2_tile.txt" ;;
    stage2_exact) bundle/bin/bench_moe_stage2 --out "$work" --json moe_stage2_exact.json --exact-decode 2>&1 | tee "$work/bench_stage2_exact.txt" ;;
    stage2_global_a) bundle/bin/bench_moe_stage2 --out "$work" --json moe_stage2_global_a.json --global-activations 2>&1 | tee "$work/bench_stage2_global_a.txt" ;;
    # A decode step with the device sorting in the graph: memset node, or the zeroing in the sorting.
    stage2_sort) bundle/bin/bench_moe_stage2 --out "$work" --json moe_stage2_sort.json --with-sorting --tokens 1,4,8,16,32,64 2>&1 | tee "$work/bench_stage2_sort.txt" ;;
    stage2_sort_zero) bundle/bin/bench_moe_stage2 --out "$work" --json moe_stage2_sort_zero.json --with-sorting --zero-in-sorting --tokens 1,4,8,16,32,64 2>&1 | tee "$work/bench_stage2_sort_zero.txt" ;;
    # $TJ_CONFIGS: tiles in the short form, ';'-separated (e.g. "table;tm64 tn256 wr;tm96 tn128 wr ns";
    # "table": the built-in table's own configs), each run on $TJ_CONFIG_TOKENS (default 1024,4096)
    # for the shapes in $TJ_CONFIG_SHAPES (default both) in two interleaved rounds: an A/B on any card.
    configs) IFS=';' read -ra specs <<< "${TJ_CONFIGS:-}"
             for round in a b; do
               for i in "${!specs[@]}"; do
                 cfg=(--config "${specs[$i]}"); [ "${specs[$i]}" = table ] && cfg=()
                 bundle/bin/bench_moe_stage2 --out "$work" --json "moe_stage2_config${i}_$round.json" --no-read-probe \
                   --tokens "${TJ_CONFIG_TOKENS:-1024,4096}" ${TJ_CONFIG_SHAPES:+--shapes $TJ_CONFIG_SHAPES} "${cfg[@]}" 2>&1 |
                   tee "$work/bench_config${i}_$round.txt"
               done
               pack
             done ;;
    # $TJ_TUNE: "shape[:tokens,...] ..." (default both shapes, every bucket), rows keyed by
    # $TJ_DEVICE_KEY (default H200), extra tuner flags in $TJ_TUNE_ARGS; each table is merged into
    # the previous one ($TJ_TUNE_MERGE first), and the benches after this step use the result.
    tune) table=${TJ_TUNE_MERGE:-}
          for spec in ${TJ_TUNE:-gpt_oss deepseek_r1}; do
            m=${spec%%:*}; toks=${spec#*:}; [ "$toks" = "$spec" ] && toks=
            bundle/bin/tilejit tune moe-stage2 --shape "$m" --device-key "${TJ_DEVICE_KEY:-H200}" ${toks:+--tokens $toks} ${table:+--merge "$table"} ${TJ_TUNE_ARGS:-} \
              --out "$work/tune_$m.json" --results "$work/tune_${m}_results.json" 2>&1 | tee "$work/tune_$m.log"
            [ -f "$work/tune_$m.json" ] && table=$work/tune_$m.json
          done
          if [ -n "$table" ] && [ -f "$table" ]; then export TILEJIT_MOE_CONFIGS=$table; fi ;;
    gemm) bundle/bin/bench_gemm --out "$work" --sweep 2>&1 | tee "$work/bench_gemm.txt" ;;
    compile) bundle/bin/bench_compile_time --out "$work" 2>&1 | tee "$work/bench_compile.txt" ;;
    # The demo twice on one cache: the second run must load its kernel by trace key, untraced.
    warm_start) for run in 1 2; do bundle/bin/moe_stage2_demo >"$work/warm_start_$run.txt" 2>&1; echo "demo run $run: rc $?" | tee -a "$work/warm_start.txt"; done
                grep -q "by trace key, body not traced" "$work/warm_start_2.txt" && r=yes || r=NO; echo "second run untraced: $r" | tee -a "$work/warm_start.txt"
                grep -h "compile:" "$work"/warm_start_[12].txt | tee -a "$work/warm_start.txt" ;;
    baseline) python3 bench/moe_stage2_baseline.py --out "$work" 2>&1 | tee "$work/baseline.txt" ;;
  esac
  pack
done
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "${TJ_NCU:-}" ] && [ -n "$ncu" ]; then
  for t in ${TJ_NCU}; do
    "$ncu" --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables \
      --section WarpStateStats --section Occupancy --section LaunchStats --section SchedulerStats -k regex:moe_stage2 -c 1 \
      bundle/bin/bench_moe_stage2 --shapes gpt_oss --tokens "$t" --reps 1 --out /tmp >"$work/ncu_gpt_oss_$t.txt" 2>&1
    pack
  done
fi
# $TJ_NCU_SASS: "shape:tokens ..." -- the executed-instruction count of every SASS line of the
# stage-2 kernel (ncu source page) and the instruction mix, for the instruction-issue analysis.
if [ -n "${TJ_NCU_SASS:-}" ] && [ -n "$ncu" ]; then
  for spec in ${TJ_NCU_SASS}; do
    m=${spec%%:*}; t=${spec#*:}
    "$ncu" --clock-control none --section InstructionStats --section SourceCounters --section WarpStateStats \
      -k regex:moe_stage2 -c 1 -o "$work/sass_${m}_$t" -f \
      bundle/bin/bench_moe_stage2 --shapes "$m" --tokens "$t" --reps 1 --out /tmp >"$work/sass_${m}_$t.log" 2>&1
    "$ncu" -i "$work/sass_${m}_$t.ncu-rep" --page source --csv --print-source sass >"$work/sass_${m}_$t.csv" 2>&1
    "$ncu" -i "$work/sass_${m}_$t.ncu-rep" --page details --print-details all >"$work/sass_${m}_${t}_details.txt" 2>&1
    rm -f "$work/sass_${m}_$t.ncu-rep"
    pack
  done
fi
cp "$work/report.txt" "$final/" 2>/dev/null
