"""``maskhog doctor``: what a bug report needs, in one command."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.option("--camera", "camera_index", default=0, show_default=True, type=click.IntRange(0),
              help="Camera index to try to open.")
@click.option("--camera-timeout", default=5.0, show_default=True, type=click.FloatRange(0.5, 60),
              help="Seconds to wait for the camera before saying it does not answer.")
def doctor(as_json, camera_index, camera_timeout):
    """Versions, the compiled feature build that runs (AVX2 or baseline), OpenCV's DNN
    backends, the shipped models' checksums and whether they load, and whether a camera
    opens. Paste its output into a bug report. Exit status 1 when a shipped model fails to load."""
    from ..doctor import diagnose

    report = diagnose(camera_index=camera_index, camera_timeout=camera_timeout)
    click.echo(json.dumps(report, indent=1) if as_json else _text(report))
    models = report["models"]
    if isinstance(models, dict) or any(m["loads"] is False for m in models):
        raise SystemExit(1)


def _text(report: dict) -> str:
    lines = []

    def section(title, body):
        lines.append(f"{title}:")
        if isinstance(body, dict) and set(body) == {"error"}:
            lines.append(f"  failed: {body['error']}")
            return False
        return True

    if section("versions", report["versions"]):
        for name, version in report["versions"].items():
            lines.append(f"  {name:<13} {version or 'not installed'}")
    f = report["features"]
    if section("compiled features", f):
        lines.append(f"  runs          {f['runs']} ({f['file']})")
        lines.append(f"  built with    {f['flags']}")
        lines.append(f"  CPU AVX2+FMA  {'yes' if f['cpu_has_avx2_fma'] else 'no'}; AVX2 build installed: "
                     f"{'yes' if f['avx2_build_installed'] else 'no'}"
                     + (f"; MASKHOG_SIMD={f['MASKHOG_SIMD']}" if f["MASKHOG_SIMD"] else ""))
    d = report["dnn"]
    if section("OpenCV DNN", d):
        lines.append(f"  available     {', '.join(d['available']) or 'none'}")
        lines.append(f"  maskhog uses  {d['maskhog_uses']}")
    if section("models", report["models"]):
        for m in report["models"]:
            state = {True: "loads", False: f"FAILS: {m.get('error')}", None: m.get("error")}[m["loads"]]
            lines.append(f"  {m['name']:<22} sha256 {m['sha256']}  {m['bytes']:>8} B  {state}")
        lines.append(f"  in {_folder(report['models'])}")
    c = report["camera"]
    if section("camera", c):
        lines.append(f"  {c['index']}: {'opens, ' if c['opens'] else ''}{c['detail']}")
    return "\n".join(lines)


def _folder(models):
    from pathlib import Path

    return Path(models[0]["path"]).parent if models else "-"
