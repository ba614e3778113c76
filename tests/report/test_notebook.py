"""notebooks/quickstart.ipynb runs top to bottom (from the repository root and from notebooks/)."""

from __future__ import annotations

import pytest
from testpaths import ROOT

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (test extras)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (test extras)")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (test extras)")

NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
@pytest.mark.parametrize("cwd", [ROOT, ROOT / "notebooks"], ids=["root", "notebooks"])
def test_quickstart_runs(cwd):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the ladder came out as an image and the report as Markdown
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any(
        "vxlanlens: what the captures show" in o.get("data", {}).get("text/markdown", "")
        for o in outputs
    )
