"""The photos both scripts of this study measure on: ``faces/`` photos and face-free windows of
scene photos, the same as docs/studies/detector-cnn-verifier/looks.py."""
import os, sys, random
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "train"))
DATA = os.environ.setdefault("MASKHOG_DATA", "../shared/data")
import detector_fhog
from maskhog.io import read_image


def photos_and_windows(split):
    """``[(label, image)]`` of faces/ photos (about 600 of the detector's training groups for
    "train", about 1,000 held-out ones otherwise), and face-free windows (60-300 px squares cut
    at random where no annotated face is) of training / test scene photos."""
    train_rows, eval_rows = detector_fhog.split_faces()
    src = train_rows if split == "train" else eval_rows
    rows = src[:: max(1, len(src) // (600 if split == "train" else 2000))]
    photos = [(r["label"], read_image(f"{DATA}/faces/{r['file']}")) for r in rows]
    train, _, test = detector_fhog.split_images()
    boxes = detector_fhog.load_boxes()
    rng = random.Random(0 if split == "train" else 1)
    windows = []
    for name in train[:300] if split == "train" else test:
        img = read_image(f"{DATA}/scenes/images/{name}")
        H, W = img.shape[:2]
        for _ in range(20):
            s = rng.randint(60, min(H, W, 300)); x = rng.randint(0, W - s); y = rng.randint(0, H - s)
            if all(max(0, min(x + s, b[3]) - max(x, b[1])) * max(0, min(y + s, b[4]) - max(y, b[2])) == 0
                   for b in boxes[name]):
                windows.append(img[y:y + s, x:x + s].copy())
                break
    return photos, windows
