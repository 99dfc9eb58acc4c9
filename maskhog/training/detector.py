"""``maskhog train-detector``: every part of maskhog's face detector, in the order each needs.

1. the fHOG templates (:mod:`.templates`);
2. with PyTorch: the proposal network (:mod:`.proposal_net`), then the CNN face
   verifier (:mod:`.cnn_verifier`), which learns from both proposers;
3. the linear face verifier (:mod:`.verifier`), where asked for (by default
   only without PyTorch: the detector prefers the CNN one);
4. beside the CNN verifier: the pretrained YuNet (fine-tuned on the training
   photos where that finds more validation faces, :mod:`.yunet_finetune`), the
   box convention fitted on the training photos, and YuNet's score rule chosen
   on the photos the verifier held out (:mod:`.yunet_rule`), so the folder's
   detector is built as the shipped default is.

With the project's scenes/ and faces/ it makes a detector that measures as the
shipped one does (docs/models.md).
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

from ..detect.fhog import TEMPLATES, YUNET_RULE_FILE
from ..detect.proposals import PROPOSAL_FILE
from ..detect.verify import CNN_VERIFIER_FILE, VERIFIER_FILE
from ..progress import silent, stage
from .templates import RECIPE, train_templates
from .verifier import VERIFIER, train_verifier

__all__ = ["train_detector"]


def train_detector(scenes, faces=None, *, out_dir, work=None, seed: int = 0, threads: int = 2,
                   max_runtime: float = 1700, cnn_verifier: bool = True, linear_verifier: bool | None = None,
                   yunet: bool = True, recipe=RECIPE, progress_factory=None, log_fn=print) -> dict:
    """Train the detector's templates and face verifiers on Pascal VOC ``scenes`` folders.

    Parameters
    ----------
    scenes : list of paths
        Pascal VOC folders; photos are split by image (20% test, 10% validation held out).
    faces : path, optional
        Class folders of tight face photos, pasted into scenes by the second template
        and framed for the CNN verifier's close-ups.
    out_dir : path
        Where the model files go (``maskhog/models/`` for the shipped detector).
    work : path, optional
        Folder for the training chips (default: a temporary one, removed after).
    seed, threads, max_runtime
        The split's seed; threads for dlib and PyTorch; seconds each template's solver may run.
    cnn_verifier : bool
        Also train the proposal network and the CNN face verifier (needs PyTorch; without
        it a message says so and the linear verifier is trained instead).
    linear_verifier : bool, optional
        Also train the linear face verifier; default: only where the CNN one is not trained.
    yunet : bool
        Beside the CNN verifier, add YuNet with its box convention and score rule
        (:func:`maskhog.training.yunet_rule.add_yunet`); without it the folder's detector
        proposes with our templates and proposal network alone.
    progress_factory : callable(total, label) -> context manager with ``update(n)``, optional
        Progress over the parts trained (:func:`maskhog.progress.bar`).

    Returns
    -------
    dict: each file's training record, by file name.
    """
    if cnn_verifier and importlib.util.find_spec("torch") is None:
        log_fn("no PyTorch here: the linear face verifier only (pip install 'maskhog[cnn]' for the CNN one)")
        cnn_verifier = False
    if linear_verifier is None:
        linear_verifier = not cnn_verifier
    if yunet and not cnn_verifier:
        log_fn("no CNN face verifier: no YuNet either (its score rule weighs the CNN verifier's)")
    out_dir = Path(out_dir)
    complete = {name for name, _ in recipe} >= set(TEMPLATES)
    parts = (["templates"] + (["linear face verifier"] if linear_verifier and complete else [])
             + (["proposal network", "CNN face verifier"] if cnn_verifier else [])
             + (["YuNet"] if cnn_verifier and yunet else []))
    with (progress_factory or silent)(len(parts), "training the detector") as bar:
        with stage("templates"), tempfile.TemporaryDirectory() as tmp:
            records = train_templates(scenes, faces, out_dir=out_dir, work=work or tmp, seed=seed,
                                      threads=threads, recipe=recipe, max_runtime=max_runtime, log_fn=log_fn)
        bar.update(1)
        if "linear face verifier" in parts:
            with stage("linear face verifier"):
                try:
                    records[VERIFIER_FILE] = train_verifier(scenes, templates=out_dir, out=out_dir / VERIFIER_FILE,
                                                            seed=seed, settings=VERIFIER, log_fn=log_fn)
                except RuntimeError as exc:   # the templates still work alone
                    log_fn(f"no face verifier: {exc}")
            bar.update(1)
        if cnn_verifier:
            from .cnn_verifier import train_cnn_verifier
            from .proposal_net import train_proposals, training_photos

            # The proposal network first: the verifier learns from its proposals too.
            log_fn("proposal network: training (about 1.5 minutes)")
            with stage("proposal network"):
                records[PROPOSAL_FILE] = train_proposals(training_photos(scenes, seed), out_dir, seed=seed)
            bar.update(1)
            with stage("CNN face verifier"):
                records[CNN_VERIFIER_FILE] = train_cnn_verifier(
                    scenes, templates=out_dir, out=out_dir / CNN_VERIFIER_FILE, seed=seed, threads=threads,
                    faces=faces, log_fn=log_fn)
            bar.update(1)
        if "YuNet" in parts:
            from .yunet_rule import add_yunet

            with stage("YuNet"):
                rule = add_yunet(scenes, out_dir, seed=seed, log_fn=log_fn)
            if rule is not None:
                records[YUNET_RULE_FILE] = rule
            bar.update(1)
    return records
