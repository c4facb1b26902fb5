"""CSV exports neutralise spreadsheet formula injection (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from kapoutcomes.storage.exports import FORMULA_STARTS, safe_csv


def read_back(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_formula_cells_neutralised_text_otherwise_untouched():
    df = pl.DataFrame(
        {
            "note": [
                '=HYPERLINK("http://x")',
                "+1+1",
                "@SUM(A1)",
                "-2+3",
                "\tcmd",
                "\rx",
                "fine",
                None,
            ],
            "score": [1.0, -3.0, 2.0, 0.0, 5.0, 1.0, 2.0, 3.0],
        }
    )
    rows = read_back(safe_csv(df))
    assert [r["note"] for r in rows] == [
        '\'=HYPERLINK("http://x")',
        "'+1+1",
        "'@SUM(A1)",
        "'-2+3",
        "'\tcmd",
        "'\rx",
        "fine",
        "",
    ]
    assert rows[1]["score"] == "'-3.0"
    assert rows[0]["score"] == "1.0"


@given(
    st.lists(
        # NUL is excluded (Python's csv reader, used to read back, cannot parse it), and so
        # are lone surrogates (no decoded export contains them; they cannot be encoded)
        st.text(
            alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
            max_size=12,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_no_cell_starts_with_a_formula_character(values):
    rows = read_back(safe_csv(pl.DataFrame({"v": values})))
    for r in rows:
        assert not r["v"].startswith(FORMULA_STARTS)
        assert not r["v"].lstrip().startswith(FORMULA_STARTS), r["v"]  # nor after spaces
        # nor does any part a semicolon-separated reading makes of it, spaces or not
        for part in r["v"].split(";")[1:]:
            assert not part.startswith(FORMULA_STARTS)
            assert not part.lstrip(" ").startswith(FORMULA_STARTS), r["v"]


def test_semicolon_then_formula_is_neutralised_for_semicolon_locale_spreadsheets():
    """Issue 15 (low): a ";=" cell passed the guard. A spreadsheet whose list separator is
    ";" (Excel in most of continental Europe) splits the unquoted cell at the ";", so the
    part after it must not start a formula either."""
    df = pl.DataFrame({"note": ["a;=cmd|' /C calc'!A0", "x; +1", ";@SUM(A1)", "b;\tc", "ok;fine"]})
    rows = read_back(safe_csv(df))
    assert [r["note"] for r in rows] == [
        "a;'=cmd|' /C calc'!A0",
        "x;' +1",
        ";'@SUM(A1)",
        "b;'\tc",
        "ok;fine",
    ]


def test_spaces_before_a_formula_do_not_hide_it():
    """The second attacker's pass (issue 15): " =1+1" passed the guard, and a spreadsheet
    that trims an imported cell's spaces (as some do) reads it as a formula."""
    df = pl.DataFrame({"note": [" =1+1", "\u00a0@SUM(A1)", "  -2", "a = b", " plain"]})
    assert [r["note"] for r in read_back(safe_csv(df))] == [
        "' =1+1",
        "'\u00a0@SUM(A1)",
        "'  -2",
        "a = b",
        " plain",
    ]


def test_a_neutralised_cell_imports_back_as_it_was():
    """The quote the guard adds is taken off again when a downloaded quarantine file is
    corrected and imported (normalise.clean), after a ";" as at the start."""
    from kapoutcomes.ingest.normalise import clean

    values = ["a;=cmd", "=1+1", "x; +1", "b;\tc", "plain; text", " =1+1"]
    back = [r["v"] for r in read_back(safe_csv(pl.DataFrame({"v": values})))]
    assert clean(pl.Series("v", back)).to_list() == [
        "a;=cmd",
        "=1+1",
        "x; +1",
        "b;\tc",
        "plain; text",
        " =1+1",
    ]


def test_an_export_does_not_follow_a_link_planted_at_its_temporary_name(tmp_path):
    """The attack (issue 15, second pass): in a folder others can write to, plant a symbolic
    link at the export's temporary name (".q.csv.<pid>.tmp", predictable) pointing at a file
    the attacker can read. write_private opened it with O_TRUNC, followed the link and wrote
    the patient data into the attacker's file (as root; another user's fchmod fails first).
    The link is removed and the file created anew: the attacker's file stays empty."""
    import os

    from kapoutcomes.storage.exports import write_private

    loot = tmp_path / "loot"
    loot.write_bytes(b"")
    link = tmp_path / f".q.csv.{os.getpid()}.tmp"
    link.symlink_to(loot)
    out = write_private(tmp_path / "q.csv", b"patient_id,score\np_0123456789abcdef,7\n")
    assert loot.read_bytes() == b""
    assert not out.is_symlink() and out.read_bytes().startswith(b"patient_id")
    assert oct(out.stat().st_mode & 0o777) == "0o600" and not link.exists()
