"""Issue 10 P3: uploaded file names are stored and shown safely, and the list of ignored files
kept with a version is bounded."""

from __future__ import annotations

import io
import zipfile

import pytest

from vein2vein.clinical.demo_data import write_demo_csv
from vein2vein.clinical.upload import UploadedFile, detect_format, parse_upload, unpack
from vein2vein.core.errors import InputError

ESCAPE = "\x1b]0;owned\x07\x1b[2J"
MAX_NAME_LENGTH = 200  # upload.MAX_NAME_LENGTH
MAX_IGNORED_LISTED = 50  # upload.MAX_IGNORED_LISTED


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> list[UploadedFile]:
    folder = write_demo_csv(tmp_path_factory.mktemp("demo"))
    return [UploadedFile(p.name, p.read_bytes()) for p in sorted(folder.glob("*.csv"))]


def _zip(entries: dict[str, bytes]) -> UploadedFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return UploadedFile("upload.zip", buf.getvalue())


def _raw(name: str) -> bool:
    return any(not ch.isprintable() for ch in name)


def test_a_name_with_terminal_escape_codes_is_kept_escaped_not_raw(
    demo_files: list[UploadedFile],
) -> None:
    parsed = parse_upload([*demo_files, UploadedFile(f"notes{ESCAPE}\x00.txt", b"x")])
    assert parsed.ignored == ("notes\\x1b]0;owned\\x07\\x1b[2J\\x00.txt",)
    assert not any(_raw(n) for n in parsed.ignored)


def test_names_inside_a_zip_are_made_safe_too(demo_files: list[UploadedFile]) -> None:
    entries = {f"study/{f.name}": f.content for f in demo_files}
    entries["study/Icon\r"] = b""  # what macOS Finder puts in a folder with a custom icon
    entries[f"study/ab{ESCAPE}.pdf"] = b"%PDF"  # (zipfile itself cuts a name at a NUL)
    parsed = parse_upload([_zip(entries)])
    assert parsed.format == "csv"
    assert set(parsed.ignored) == {"Icon\\r", "ab\\x1b]0;owned\\x07\\x1b[2J.pdf"}


def test_long_names_are_cut_with_an_ellipsis(demo_files: list[UploadedFile]) -> None:
    long = "x" * 5000 + ".txt"
    parsed = parse_upload([*demo_files, UploadedFile(long, b"x")])
    (name,) = parsed.ignored
    assert len(name) == MAX_NAME_LENGTH
    assert name.endswith("…")
    parsed = parse_upload([*demo_files, UploadedFile("dir\\sub/" + "é" * 10, b"x")])
    assert parsed.ignored == ("é" * 10,)  # folders dropped, printable characters kept


def test_error_messages_do_not_echo_a_raw_or_endless_name() -> None:
    files = [UploadedFile(f"{ESCAPE}{'y' * 3000}.txt", b"x")]
    with pytest.raises(InputError) as exc:
        detect_format(unpack(files))
    message = str(exc.value)
    assert not _raw(message)
    assert len(message) < 1000
    twice = [UploadedFile(f"a{ESCAPE}.txt", b"1"), UploadedFile(f"A{ESCAPE}.TXT", b"2")]
    with pytest.raises(InputError) as exc:
        unpack(twice)
    assert not _raw(str(exc.value))


def test_the_ignored_list_is_capped_and_the_count_kept(demo_files: list[UploadedFile]) -> None:
    entries = {f.name: f.content for f in demo_files}
    entries |= {f"junk/{i:05d}-{'z' * 150}.dat": b"" for i in range(2000)}
    parsed = parse_upload([_zip(entries)])
    assert parsed.ignored_count == 2000
    assert len(parsed.ignored) == MAX_IGNORED_LISTED
    assert parsed.ignored[0].startswith("00000-")  # the first names, sorted
    assert sum(len(n) for n in parsed.ignored) < 20_000
