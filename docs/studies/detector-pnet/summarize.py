"""The report's tables, from WORK/eval_NET_SPLIT.json (evaluate.py).

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/summarize.py --work /tmp/pnet
"""

import argparse
import json
from pathlib import Path

NETS = ("p12", "p16s4", "p16s4w", "p16s4x")


def line(name, r):
    return (f"| {name} | {r['per_photo']:.1f} | {r['with_mask']:.3f} | {r['without_mask']:.3f} | "
            f"{r['incorrect_mask']:.2f} | {r['small_24_40']:.2f} | {r['of_fhog_misses'] or '-'} |")


HEAD = ("| proposer | proposals/photo | with_mask | without_mask | incorrect | faces 24-40 px | of fHOG(-1.4) misses |\n"
        "|---|---|---|---|---|---|---|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/pnet")
    ap.add_argument("--main", default="p16s4")
    a = ap.parse_args()
    w = Path(a.work)
    for split in ("held", "test"):
        d = json.load(open(w / f"eval_{a.main}_{split}.json"))
        rows = d["rows"]
        print(f"\n### {split}: faces >= 24 px {d['faces']}; P-Net = {a.main}\n")
        print(HEAD)
        for k in ("fHOG >= -1.4", "fHOG >= -1.4, duplicates merged", "fHOG >= -1.8", "fHOG >= -2.2"):
            print(line(k, rows[k]))
        for k in rows:
            if k.startswith("P-Net top") or (k.startswith("P-Net logit") and k.split()[-1] in ("2.5", "2", "1.5", "1")):
                print(line(k, rows[k]))
        for k in rows:
            if k.startswith("fHOG -1.4 + P-Net") and k.split()[-1] in ("10", "20", "40", "2", "1.5"):
                print(line(k, rows[k]))
    print("\n### the four networks, logit >= 2 and >= 1.5 (proposals/photo: with_mask / without_mask / of fHOG misses)\n")
    print("| net | params | held, >= 2 | held, >= 1.5 | test, >= 2 | test, >= 1.5 |\n|---|---|---|---|---|---|")
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pnet_common import PNet
    for net in NETS:
        cells = []
        for split in ("held", "test"):
            rows = json.load(open(w / f"eval_{net}_{split}.json"))["rows"]
            for t in ("2", "1.5"):
                r = rows[f"P-Net logit >= {t}"]
                cells.append(f"{r['per_photo']:.1f}: {r['with_mask']:.3f} / {r['without_mask']:.3f} / {r['of_fhog_misses']}")
        n = sum(p.numel() for p in PNet(net).parameters())
        print(f"| {net} | {n} | " + " | ".join(cells) + " |")
    for split in ("held", "test"):
        r = json.load(open(w / f"eval_{a.main}_{split}.json"))["rows"]["fHOG >= -1.4"]
        print(f"| fHOG >= -1.4 ({split}) | | {r['per_photo']:.1f}: {r['with_mask']:.3f} / {r['without_mask']:.3f} | | | |")


if __name__ == "__main__":
    main()
