"""Self-describing artifact folders (Dataset, Model, Runtime): manifest, safe writes, checked loads.

Every artifact folder has a ``manifest.json`` with its ``kind``, ``format_version`` and the
``seqintent_version`` that wrote it. Writing goes to a temporary sibling folder that is renamed
into place only when complete, so a crash never leaves a half-written artifact behind a valid
manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from seqintent import __version__
from seqintent.errors import ArtifactError
from seqintent.schema.columns import DatasetFiles

MANIFEST = DatasetFiles.MANIFEST


def write_json(path: Path, data: Any) -> None:
    """Write JSON with sorted keys and a final newline (stable bytes for the same data)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError("file is missing", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None


class ArtifactWriter:
    """Builds an artifact in a temporary folder and moves it to ``out`` on :meth:`commit`.

    Parameters
    ----------
    out:
        Target folder. It must not exist unless ``overwrite``; a file there is refused.
    kind, format_version:
        Written to the manifest.
    overwrite:
        Replace an existing folder of the same kind (a folder of another kind is never replaced).
    """

    def __init__(self, out: str | Path, *, kind: str, format_version: int, overwrite: bool = False) -> None:
        self.out = Path(out)
        self.kind = kind
        self.format_version = format_version
        if self.out.exists() and not self.out.is_dir():
            raise ArtifactError("output path is a file, expected a folder", file=str(self.out))
        if self.out.is_dir() and any(self.out.iterdir()):
            if not overwrite:
                raise ArtifactError(
                    "output folder exists and is not empty",
                    file=str(self.out),
                    fix="pass --overwrite or choose another -o",
                )
            manifest = self.out / MANIFEST
            found = read_json(manifest).get("kind") if manifest.is_file() else None
            if found != kind:
                raise ArtifactError(
                    f"refusing to overwrite a folder that is not a {kind} (manifest kind: {found})",
                    file=str(self.out),
                    fix="choose another output folder",
                )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-", dir=self.out.parent))
        # mkdtemp makes the folder private (0700); an artifact gets the usual permissions of a new folder
        umask = os.umask(0)
        os.umask(umask)
        self.path.chmod(0o777 & ~umask)

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest (last, so its presence means "complete") and move the folder into place."""
        body = {
            "kind": self.kind,
            "format_version": self.format_version,
            "seqintent_version": __version__,
            **manifest,
        }
        write_json(self.path / MANIFEST, body)
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.path, self.out)
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None or self.path.exists():
            self.abort()


def read_manifest(folder: str | Path, *, kind: str, supported_versions: tuple[int, ...]) -> dict[str, Any]:
    """Read and check a folder's manifest.

    Raises
    ------
    ArtifactError
        If the folder or manifest is missing, or the kind or format version is not the expected one.
    """
    folder = Path(folder)
    if not folder.exists():
        raise ArtifactError(f"no such folder (expected a {kind} folder)", file=str(folder))
    if not folder.is_dir():
        raise ArtifactError(f"is a file, expected a {kind} folder", file=str(folder))
    path = folder / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"not a {kind} folder: {MANIFEST} is missing",
            file=str(folder),
            fix="give the folder written by seqintent",
        )
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("kind") != kind:
        found = manifest.get("kind") if isinstance(manifest, dict) else type(manifest).__name__
        raise ArtifactError(f"expected kind {kind!r}, found {found!r}", file=str(path))
    version = manifest.get("format_version")
    if version not in supported_versions:
        raise ArtifactError(
            f"format version {version} is not supported by seqintent {__version__} "
            f"(supported: {', '.join(map(str, supported_versions))})",
            file=str(path),
            fix="re-create the folder with this version of seqintent, or install the version that wrote it "
            f"({manifest.get('seqintent_version')})",
        )
    return manifest
