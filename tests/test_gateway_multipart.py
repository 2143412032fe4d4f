"""Multipart parsing and link rewriting: chunk boundaries anywhere, payload bytes never touched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radledger.gateway.app import resource_kind
from radledger.gateway.errors import UpstreamError
from radledger.gateway.links import LinkRewriter
from radledger.gateway.multipart import MultipartParser, boundary_of, iter_parts, rewrite_part_headers

BOUNDARY = b"fbf97a50-2e5b-4cd6-b474"
UPSTREAM = "http://127.0.0.1:8042/dicom-web"
PUBLIC = "https://gateway.site-a.example/dicomweb"


def body(parts: list[tuple[bytes, bytes]], boundary: bytes = BOUNDARY, preamble: bytes = b"") -> bytes:
    out = preamble
    for headers, data in parts:
        out += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + data + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[last:point])
        last = point
    return pieces


payloads = st.binary(max_size=300).map(lambda b: b.replace(b"--" + BOUNDARY, b"-x"))


@given(st.lists(payloads, min_size=1, max_size=4), st.lists(st.integers(0, 2000), max_size=12))
def test_parts_come_back_whole_whatever_the_chunking(datas: list[bytes], cuts: list[int]) -> None:
    parts = [(b"Content-Type: application/dicom", d) for d in datas]
    raw = body(parts, preamble=b"ignored preamble\r\n")
    got = list(iter_parts(iter(chunked(raw, cuts)), BOUNDARY))
    assert [p.data for p in got] == datas
    assert all(p.headers == {"content-type": "application/dicom"} for p in got)


@given(st.lists(payloads, min_size=1, max_size=4), st.lists(st.integers(0, 2000), max_size=12))
def test_rewriting_changes_part_headers_only(datas: list[bytes], cuts: list[int]) -> None:
    location = f"Content-Location: {UPSTREAM}/studies/1.2/series/3.4".encode()
    raw = body([(b"Content-Type: application/octet-stream\r\n" + location, d) for d in datas])
    parser = MultipartParser(BOUNDARY)
    links = LinkRewriter(UPSTREAM, PUBLIC)
    out = b"".join(b"".join(rewrite_part_headers(parser.feed(c), links.header_block)) for c in chunked(raw, cuts))
    out += b"".join(rewrite_part_headers(parser.close(), links.header_block))
    expected = raw.replace(UPSTREAM.encode(), PUBLIC.encode())
    assert out == expected


def test_a_body_cut_before_its_close_delimiter_is_an_upstream_error() -> None:
    raw = body([(b"Content-Type: application/dicom", b"DICM")])[:-10]
    with pytest.raises(UpstreamError):
        list(iter_parts(iter([raw]), BOUNDARY))


def test_boundary_is_read_from_quoted_and_bare_parameters() -> None:
    assert boundary_of('multipart/related; type="application/dicom"; boundary="a b"') == b"a b"
    assert boundary_of("multipart/related; boundary=xyz; type=application/dicom") == b"xyz"
    assert boundary_of("application/dicom+json") is None


def test_links_in_dicom_json_point_at_the_gateway() -> None:
    links = LinkRewriter(UPSTREAM, PUBLIC)
    document = [
        {
            "00081190": {"vr": "UR", "Value": [f"{UPSTREAM}/studies/1.2"]},
            "7FE00010": {"vr": "OW", "BulkDataURI": f"{UPSTREAM}/studies/1.2/series/3/instances/4/bulk/7fe00010"},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "SYNTHETIC^P0001"}]},
            "00080054": {"vr": "AE", "Value": ["ORTHANC"]},
        }
    ]
    links.json(document)
    assert document[0]["00081190"]["Value"] == [f"{PUBLIC}/studies/1.2"]
    assert document[0]["7FE00010"]["BulkDataURI"] == f"{PUBLIC}/studies/1.2/series/3/instances/4/bulk/7fe00010"
    assert document[0]["00100010"]["Value"] == [{"Alphabetic": "SYNTHETIC^P0001"}]


def test_upstream_links_built_from_another_host_are_rewritten_too() -> None:
    links = LinkRewriter(UPSTREAM, PUBLIC)
    assert links.url("http://pacs.internal:8042/dicom-web/studies/1.2?x=1") == f"{PUBLIC}/studies/1.2?x=1"
    assert links.url("https://elsewhere.example/wado/1.2") == "https://elsewhere.example/wado/1.2"
    assert links.url(UPSTREAM + "x/studies") == UPSTREAM + "x/studies"  # a longer path is not the upstream's


@pytest.mark.parametrize(
    ("rest", "kind"),
    [
        ("", "study"),
        ("metadata", "study-metadata"),
        ("series", "search"),
        ("instances", "search"),
        ("series/1.2", "series"),
        ("series/1.2/metadata", "series-metadata"),
        ("series/1.2/instances", "search"),
        ("series/1.2/instances/3.4", "instance"),
        ("series/1.2/instances/3.4/metadata", "instance-metadata"),
        ("series/1.2/instances/3.4/rendered", "instance-rendered"),
        ("series/1.2/instances/3.4/frames/1,2", "frames"),
        ("series/1.2/instances/3.4/frames/1/rendered", "frames-rendered"),
        ("series/1.2/instances/3.4/bulk/7fe00010", "bulkdata"),
        ("rendered", "study-rendered"),
    ],
)
def test_the_access_log_names_the_resource_asked_for(rest: str, kind: str) -> None:
    assert resource_kind(rest) == kind
