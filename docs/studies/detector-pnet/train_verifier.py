"""Train the CNN face verifier by the shipped recipe on the P-Net's proposals instead of the
templates'.

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=.:docs/studies/detector-pnet \
        .venv/bin/python docs/studies/detector-pnet/train_verifier.py /tmp/pnet/re/p16s4.pt \
        '{"candidate_threshold": 1.0}' /tmp/pnet/fv_pnet.onnx
    ... train_verifier.py /tmp/pnet/re/p16s4.pt '{"union": 1.5}' /tmp/pnet/fv_union.onnx
    ... train_verifier.py /tmp/pnet/re/p16s4.pt '{"union": 1.5, "net_seed": 1}' /tmp/pnet/fv_union1.onnx
    ... train_verifier.py /tmp/pnet/re/p16s4.pt '{"templates_only": true}' /tmp/pnet/fv_templates.onnx

The recipe (``maskhog.cnn_verifier_training.train_cnn_verifier``, the shipped settings plus
those given) is run with its proposer swapped for the P-Net: each photo, as it is and
enlarged 1.5x, gives the P-Net's boxes with a face logit of at least
``candidate_threshold``, and the logit stands where the recipe expects the template's score
(the score rule weighs it in). No close-ups (they are framed face photos for the later
looks, not scene faces). With ``"union": L`` the proposals are the templates' (from the
recipe's -1.4, with their scores) and the P-Net's from logit L, which are given the score
-1.4 (no opinion of the templates'). ``"templates_only": true`` keeps the templates'
proposals (the shipped recipe without close-ups: the baseline for the others).
``"net_seed": K`` draws the network (its first weights and batches) with seed K on the same
split of photos (the recipe's seed also splits them). Writes the ONNX file and its record
(``.json`` beside it).
"""
import json
import os
import sys
from pathlib import Path

import torch

import maskhog.cnn_verifier_training as recipe
from maskhog.detect import Face, MaskHog

import pnet_common as P

net_path, extra, out = Path(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[3])
net = P.load_net(net_path)
union = extra.pop("union", None)
templates_only = extra.pop("templates_only", False)
net_seed = extra.pop("net_seed", 0)
templates = MaskHog(verifier=False)


class PNetProposer:
    """What the recipe asks of its proposer, from the P-Net."""

    # For crops without colour, judged by the proposer's score alone.
    threshold = 3.0 if union is None else templates.threshold

    def __init__(self, *args, **kwargs):
        pass

    def propose(self, image, threshold):
        if union is None:
            boxes, logits = P.scan(net, image, threshold=threshold)
            return [Face(tuple(int(round(v)) for v in b), float(s)) for b, s in zip(boxes, logits)]
        boxes, _ = P.scan(net, image, threshold=union)
        return templates.propose(image, threshold) + [Face(tuple(int(round(v)) for v in b), threshold)
                                                      for b in boxes]

    def with_pose(self):
        return self


if not templates_only:
    recipe.MaskHog = PNetProposer
split = recipe._split_scenes
recipe._split_scenes = lambda scenes, seed: split(scenes, 0)   # the same photos for every net_seed
threads = int(os.environ.get("THREADS", 2))
torch.set_num_threads(threads)
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
settings = dict(recipe.CNN_VERIFIER, closeups=0, **extra)
record = recipe.train_cnn_verifier([data / "scenes"], out=out, threads=threads, settings=settings, seed=net_seed)
out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
