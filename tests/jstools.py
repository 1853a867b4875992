"""The npm packages the tests run (tools/js/, installed by `make js` from the npm registry).

A missing package fails the test that needs it, with how to install it: never a skip, so CI
cannot pass without running them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
JS = REPO / "tools" / "js"
MODULES = JS / "node_modules"


def js_package(name: str) -> Path:
    folder = MODULES / name
    if not (folder / "package.json").is_file():
        pytest.fail(f"the npm package {name} is missing from {MODULES}: run 'make js'")
    return folder


def node() -> str:
    found = shutil.which("node") or shutil.which("nodejs")
    if found is None:
        pytest.fail("node is missing: apt-get install -y npm (.ci/run does)")
    return found


def axe_source() -> Path:
    return js_package("axe-core") / "axe.min.js"


def doiuse(html_file: Path) -> dict[str, Any]:
    """doiuse-email's verdict on ``html_file`` for Gmail, Outlook, Apple Mail, Yahoo and
    Samsung Email: {"success", "errors", "warnings", "notes"}."""
    js_package("doiuse-email")
    done = subprocess.run(
        [node(), str(JS / "doiuse.mjs"), str(html_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result
