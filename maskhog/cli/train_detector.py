"""``maskhog train-detector``: maskhog's face detector, from Pascal VOC scene photos."""

from __future__ import annotations

import json

import click

from .common import log, progress, training_extras


@click.command("train-detector")
@click.argument("scenes", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--faces", type=click.Path(exists=True, file_okay=False),
              help="Class folders of tight face photos, pasted into scenes by the second template.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the two .svm templates, the proposal network, the face verifiers and "
                   "YuNet's files (maskhog/models/ for the shipped detector).")
@click.option("--work", type=click.Path(file_okay=False),
              help="Folder for the training chips (default: a temporary one, removed after).")
@click.option("--seed", default=0, show_default=True, help="Seed of the photo split and the chips.")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--max-runtime", default=1700, show_default=True, type=click.FloatRange(10),
              help="Seconds each template's solver may run.")
@click.option("--cnn-verifier/--no-cnn-verifier", default=True, show_default=True,
              help="Also train the proposal network and the CNN face verifier (needs PyTorch: "
                   "pip install 'maskhog[cnn]'; about 18 minutes more on two threads).")
@click.option("--linear-verifier/--no-linear-verifier", default=None,
              help="Also train the linear face verifier (about 3 minutes). Default: only where the "
                   "CNN one is not trained, since the detector prefers the CNN one.")
@click.option("--yunet/--no-yunet", default=True, show_default=True,
              help="Beside the CNN verifier, add the pretrained YuNet proposer with its box convention and "
                   "score rule fitted on these photos, as the shipped detector has them (about 2 minutes).")
def train_detector(scenes, faces, out_dir, work, seed, threads, max_runtime, cnn_verifier, linear_verifier, yunet):
    """Train maskhog's face detector (fHOG templates and face verifiers) on Pascal VOC SCENES folders.

    Photos are split by image (20% test, 10% validation held out); chips are
    cut around the training photos' faces at the detector's scale, and the
    second template also learns from face photos (--faces) pasted into
    scenes. Where PyTorch is installed, a small proposal network learns the
    same faces, and a small CNN face verifier learns which of both's
    proposals at a low threshold are faces; else a linear verifier learns
    from the templates' (--linear-verifier: both verifiers). Beside the CNN
    verifier, the pretrained YuNet proposer is added, its score and box heads
    fine-tuned on the same photos where that finds more validation faces,
    with its box convention and score rule fitted there (--no-yunet: without). With the
    project's scenes/ and faces/ it makes a detector that measures as the
    shipped one does (about 33 minutes and 7.1 GiB on 2 cores; docs/models.md).
    """
    training_extras("sklearn")
    from ..training.detector import train_detector as run

    try:
        records = run(list(scenes), faces, out_dir=out_dir, work=work, seed=seed, threads=threads,
                      max_runtime=max_runtime, cnn_verifier=cnn_verifier, linear_verifier=linear_verifier,
                      yunet=yunet, progress_factory=progress, log_fn=log)
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(records, indent=1))
