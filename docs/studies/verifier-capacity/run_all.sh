# The study as it ran, on the 2-core machine (about 90 minutes): the recipe's proposals, the
# crops, then each variant in turn on two threads. Variants run on a GPU where torch sees one.
set -e
WORK=${WORK:-/tmp/verifier-capacity}
python rows.py --work "$WORK"
python variants.py prep --rows "$WORK/rows.json.gz" --closeups "$WORK/closeups.npz" \
    --images "${MASKHOG_DATA:-../shared/data}/scenes/images" --work "$WORK"
for v in eighth quarter half half_steps seed1; do
    python variants.py train $v --work "$WORK" --threads 2
done
python variants.py table --work "$WORK"
