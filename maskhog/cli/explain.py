"""``maskhog explain``: for each face found, a figure or a JSON file of what the model saw and why."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from .common import classifier_options, detector_options, fail, later_looks_option, log, min_face_option


@click.command()
@click.argument("inputs", nargs=-1)
@click.option("--demo", is_flag=True,
              help="Use scikit-image's bundled astronaut photo, as is and with a mask drawn on.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="explain", show_default=True,
              help="Folder for the figures or JSON files (made if missing).")
@click.option("--format", "fmt", type=click.Choice(["png", "json"]), default="png", show_default=True,
              help="png: one figure per face (needs matplotlib); json: one file per image, every number.")
@detector_options()
@classifier_options()
@min_face_option
@later_looks_option
def explain(inputs, demo, out_dir, fmt, detector, classifier, min_face, later_looks):
    """Show what the model sees in each face of INPUTS, and why it decided as it did.

    For each face: the crop as the model saw it, its HOG glyphs, LBP codes and skin-colour
    cue; for each class, the linear model's weights and each cell's contribution to the score
    (they sum, with the intercept, to the decision value); the probabilities, which stage
    decided and which proposer found the face. Faces the CNN decided also get an occlusion
    map (an approximation). INPUTS are image files, folders or patterns, as for `predict`.
    One line per image on stdout names the files written.
    """
    from ..explain import explain_image
    from ..io import ImageError, expand_inputs, read_image
    from ..io.demo import demo_images
    from ..pipeline import MaskDetector

    if fmt == "png":
        from ..figures import MatplotlibMissing, require_matplotlib

        try:
            require_matplotlib()
        except MatplotlibMissing as exc:
            raise click.ClickException(str(exc)) from None
    paths = expand_inputs(inputs, stdin=sys.stdin)
    if not paths and not demo:
        raise click.UsageError("give image files, folders or patterns, or --demo")
    finder = MaskDetector(detector, classifier, min_face=min_face, second_look=later_looks)
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot make the folder {folder}: {exc.strerror}") from None

    def images():
        yield from demo_images() if demo else []
        for path in paths:
            try:
                yield path, read_image(path)
            except ImageError as exc:
                log(f"skipped {exc}")

    done, taken = 0, set()
    for name, image in images():
        try:
            faces = explain_image(image, finder)
        except ValueError as exc:
            log(f"skipped {name}: {exc}")
            continue
        done += 1
        if not faces:
            log(f"no face found in {name}")
        stem = _stem(name, taken)
        record = {"image": name, "faces": [{"box": list(f.box), "label": f.label, "score": round(f.score, 4),
                                            "stage": f.stage} for f in faces]}
        if fmt == "json":
            target = folder / f"{stem}.json"
            _write(target, json.dumps({"image": name, "faces": [f.to_dict() for f in faces]}) + "\n")
            record["file"] = str(target)
        else:
            from ..figures import save_face_figure

            for k, (face, entry) in enumerate(zip(faces, record["faces"])):
                target = folder / f"{stem}_face{k + 1}.png"
                try:
                    save_face_figure(face, target, title=f"{name}: face {k + 1} of {len(faces)}")
                except OSError as exc:
                    raise fail(OSError(f"cannot write {target}: {exc.strerror}")) from None
                entry["file"] = str(target)
        click.echo(json.dumps(record))
    if not done:
        raise click.ClickException("no readable image")


def _stem(name: str, taken: set) -> str:
    """A file-name stem for image ``name``, unique among ``taken`` (two inputs may share a name)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("_") or "image"
    unique, k = stem, 1
    while unique in taken:
        unique, k = f"{stem}_{k}", k + 1
    taken.add(unique)
    return unique


def _write(target: Path, text: str) -> None:
    try:
        target.write_text(text)
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
