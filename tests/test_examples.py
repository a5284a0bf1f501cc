"""The example notebooks: each ``examples/NN_name.py`` (jupytext py:percent, the file
to edit) has its output-free ``.ipynb`` twin with the same cells.  The notebooks
themselves run under ``VSWAP_NB_SMALL=1 pytest --nbmake examples/`` (``make test``)."""
import json
import pathlib

import jupytext
import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"
SOURCES = sorted(EXAMPLES.glob("*.py"))
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_every_notebook_has_its_source_and_back():
    assert SOURCES, "examples/ has no notebooks"
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("src", SOURCES, ids=[p.name for p in SOURCES])
def test_notebook_matches_its_source_and_has_no_outputs(src):
    nb = json.loads(src.with_suffix(".ipynb").read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{src.stem}.ipynb holds outputs; regenerate it: jupytext --to ipynb {src}"
            )
    want = [(c.cell_type, c.source.strip()) for c in jupytext.read(src).cells]
    got = [(c["cell_type"], "".join(c["source"]).strip()) for c in nb["cells"]]
    assert got == want, f"{src.stem}.ipynb is out of step with {src.name}; run jupytext --to ipynb {src}"
    assert "VSWAP_NB_SMALL" in src.read_text(), f"{src.name} must shrink its sizes under VSWAP_NB_SMALL"
