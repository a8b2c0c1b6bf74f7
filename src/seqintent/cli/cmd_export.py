"""``seqintent export``: a Model folder → a Runtime folder (ONNX graphs and vocabularies) for serving."""

from __future__ import annotations

import os
from pathlib import Path

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors, json_option, print_json

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see cmd_train.py: spin-waits collapse on shared cores


@main.command("export")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Runtime folder (default: MODEL.runtime).")
@click.option("--int8", is_flag=True, help="Also write the int8 dynamic quantization of the graph.")
@click.option("--overwrite", is_flag=True, help="Replace an existing Runtime folder.")
@click.option(
    "--anomaly",
    type=click.Path(path_type=Path),
    help="An anomaly model folder (seqintent anomaly fit) to serve risk with (GET /v1/users/{id}/risk).",
)
@click.option("--opset", type=int, default=18, show_default=True, help="ONNX opset.")
@json_option
@handle_errors
def export_command(
    model: Path,
    out: Path | None,
    int8: bool,
    overwrite: bool,
    anomaly: Path | None,
    opset: int,
    as_json: bool,
) -> None:
    """Export MODEL to ONNX (dynamic batch and length), checked against PyTorch.

    Example: seqintent export models/taobao --int8
    """
    from seqintent.runtime import Runtime, export_runtime

    folder = export_runtime(model, out, int8=int8, overwrite=overwrite, anomaly=anomaly, opset=opset)
    config = Runtime.load(folder).config
    precisions = config.precisions
    if as_json:
        print_json(
            {
                "runtime": str(folder),
                "precisions": {k: v.model_dump() for k, v in precisions.items()},
                "heads": config.heads,
                "risk": anomaly is not None,
            }
        )
        return
    click.echo(f"wrote {folder}")
    for name, info in precisions.items():
        click.echo(
            f"  {name}: {info.file}  max |ONNX - PyTorch| {info.max_abs_diff:.2g}, "
            f"top-10 agreement {info.top10_agreement:.1%}"
        )
    click.echo(f"  answers: {', '.join(config.heads)}" + (", risk" if anomaly is not None else ""))
    click.echo(f"serve it: seqintent serve {folder}")
