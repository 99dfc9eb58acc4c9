"""Cut the default recipe's crops and save their features (2026-11-27, second look).

    python docs/studies/c-choice/cut_features.py [DATA] [OUT.npz]

The faces, split and settings of train/default_model.py, found by the shipped detector; the
features of every training (augmented), validation and test face go to OUT.npz (default
/tmp/feats.npz) for gray_weights.py. About a minute.
"""
import sys
import time
from pathlib import Path
import numpy as np
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "train"))
from default_model import SETTINGS
from maskhog.data import group_split, load_datasets
from maskhog.features import face_features
from maskhog.training import face_crops, face_finder
t = time.time()
spec, features, seed = SETTINGS["crop"], SETTINGS["features"], SETTINGS["seed"]
finder = face_finder()
root = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[3] / "shared" / "data"
out_path = sys.argv[2] if len(sys.argv) > 2 else "/tmp/feats.npz"
data = load_datasets([root / "faces", root / "scenes"])
idx = group_split(data, (0.7, 0.15, 0.15), seed=seed)
out = {}
for name, i, aug in zip(("train", "validation", "test"), idx, (SETTINGS["augment"], None, None)):
    p = face_crops(data.subset(i), spec, detector=finder, augment=aug, seed=seed)
    out["X_" + name] = face_features(p.crops, **features)
    out["y_" + name] = np.asarray(p.labels)
    if name != "train":
        out["crops_" + name] = p.crops
    print(name, len(p.labels), time.time() - t, flush=True)
np.savez(out_path, **out)
print("done", time.time() - t)
