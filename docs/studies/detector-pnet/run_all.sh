#!/bin/sh
# The whole study, start to end (about 10 minutes on 2 cores):
#   cd /work/main && sh docs/studies/detector-pnet/run_all.sh /tmp/pnet
# Writes only under WORK (default /tmp/pnet).
set -e
WORK=${1:-/tmp/pnet}
D=docs/studies/detector-pnet
PY=".venv/bin/python"
export PYTHONPATH=.
mkdir -p "$WORK"
$PY $D/gen.py --work "$WORK" --pos 6 --part 3 --near 3 --neg 30 --bare 3
$PY $D/fhog_props.py --work "$WORK"
for A in p12 p16s4 p16s4w p16s4x; do
  $PY $D/train.py --work "$WORK" --arch $A --epochs 20 --out ${A}_0.pt > "$WORK/train_${A}_0.log"
  $PY $D/mine.py --work "$WORK" --net ${A}_0.pt --per-photo 60 --out hard_${A}.npz > "$WORK/mine_${A}.log"
  $PY $D/train.py --work "$WORK" --arch $A --epochs 30 --hard hard_${A}.npz --out ${A}.pt > "$WORK/train_${A}.log"
  for S in held test; do
    $PY $D/evaluate.py --work "$WORK" --net ${A}.pt --split $S --thresholds 3,2.5,2,1.5,1,0.5 --ks 10,20,40,80 > "$WORK/table_${A}_${S}.md"
  done
done
$PY $D/timing.py --work "$WORK" --nets p12.pt,p16s4.pt,p16s4w.pt,p16s4x.pt --threshold 1.5 --top-k 80 > "$WORK/timing.txt"
