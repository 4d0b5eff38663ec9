"""Releases: one design point of a study, built at bitstream fidelity, kept with its provenance.

``promote(study, trial, name)`` resolves the trial's design point with the study's own config
(``dse.buildspec.resolve_build``), builds it locally or on a build host (the sweeps' Ray
dispatch, ``runners.dispatch.BuildFarm``) and publishes ``<results>/releases/<name>/``::

    manifest.json       provenance and the sha256 of every other file (see ``MANIFEST_FORMAT``)
    <name>.bit          the bitstream (``<name>.xclbin`` for vitis-link)
    study.yaml          the study's config, as stored with the study
    point.json          the trial's design point, the build point and the template parameters
    build/result.json   the build's ``BuildResult``
    sources/            the rendered build bundle: template sources, flow scripts, bundle.json
    reports/            the reports and logs the build names
    artefacts/          the build's other artefacts (a Vivado checkpoint, an HLS ``.xo``)

The folder is assembled in ``releases/.tmp-<name>-*`` and moved into place with one rename
when complete, so nothing half-written ever appears under its name; it is then read-only
(files 0444, folders 0555). To delete a release: ``chmod -R u+w`` it first.

Stable API (the dashboard imports these): ``promote``, ``list_releases``, ``load_release``,
``verify_release``, ``Release``, ``VerifyReport``, ``ReleaseError``, ``ReleaseBuildFailed``,
``RELEASE_FLOWS``. Every function takes the results root (default ``results``), not the
``releases`` folder.
"""

from __future__ import annotations

from dse._release_base import (
    MANIFEST_FORMAT,
    RELEASE_FLOWS,
    ReleaseBuildFailed,
    ReleaseError,
    check_name,
)
from dse._release_check import release_digest, sign_release, signature_path, verify_release
from dse._release_promote import promote
from dse._release_read import Release, list_releases, load_release, releases_root
from dse._release_verify import MANIFEST, VerifyReport
from dse.layout import RELEASES

__all__ = [
    "MANIFEST",
    "MANIFEST_FORMAT",
    "RELEASES",
    "RELEASE_FLOWS",
    "Release",
    "ReleaseBuildFailed",
    "ReleaseError",
    "VerifyReport",
    "check_name",
    "list_releases",
    "load_release",
    "promote",
    "release_digest",
    "releases_root",
    "sign_release",
    "signature_path",
    "verify_release",
]
