"""Every row of docs/validation.md: the call raises the error shown, with a message
containing the text shown, before any kernel runs."""
import contextlib
import io
import pathlib
import re
import shlex

import pytest

import vswap_nb as v
from vswap_nb.cli import main

DOC = pathlib.Path(__file__).parent.parent / "docs" / "validation.md"
ROW = re.compile(r"^\| `(.+)` \| (\w+) \| `(.+)` \|$")
ROWS = [m.groups() for m in map(ROW.match, DOC.read_text().splitlines()) if m]


class CliError(Exception):
    """The command exited with status 2; the message is what it printed."""


def cli(line):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(shlex.split(line))
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code
    if code == 2:
        raise CliError(err.getvalue())
    return code


ENV = {
    "v": v,
    "cli": cli,
    "zram": v.Device("zram", "1G"),
    "small": v.System("64M", swap=v.Device("zram", "64M")),
}
ERRORS = {"ValueError": ValueError, "TypeError": TypeError, "FileNotFoundError": FileNotFoundError,
          "CliError": CliError}


def test_the_table_is_there():
    assert len(ROWS) >= 50


@pytest.mark.parametrize("call, error, fragment", ROWS, ids=[r[0][:60] for r in ROWS])
def test_bad_input(call, error, fragment):
    with pytest.raises(ERRORS[error]) as exc:
        eval(call, dict(ENV))
    assert fragment in str(exc.value), str(exc.value)
