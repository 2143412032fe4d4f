"""The gateway's HTTP plumbing: multipart parsing and link rewriting (chunk boundaries anywhere, payload
bytes never touched), the upstream response reader, the scoping of study requests, the access log's
resource names."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radledger.gateway.app import resource_kind, scoped_query, within_study
from radledger.gateway.errors import UpstreamError
from radledger.gateway.links import LinkRewriter
from radledger.gateway.multipart import MultipartParser, boundary_of, iter_parts, rewrite_part_headers
from radledger.gateway.relay import ResponseReader

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


def test_a_query_inside_a_study_cannot_name_another_study() -> None:
    params = [("StudyInstanceUID", "2.25.2"), ("0020000d", "2.25.2"), ("includefield", "00100020"), ("limit", "5")]
    assert scoped_query(params) == [("includefield", "00100020"), ("limit", "5")]


def test_results_of_another_study_are_dropped_from_an_answer_about_one_study() -> None:
    mine = {"0020000D": {"vr": "UI", "Value": ["2.25.1"]}, "00080018": {"vr": "UI", "Value": ["2.25.10"]}}
    other = {"0020000D": {"vr": "UI", "Value": ["2.25.2"]}, "00080018": {"vr": "UI", "Value": ["2.25.20"]}}
    unnamed = {"00080018": {"vr": "UI", "Value": ["2.25.30"]}}  # a frame list or a result without the tag
    assert within_study([mine, other, unnamed], "2.25.1") == [mine, unnamed]
    assert within_study({"not": "a list"}, "2.25.1") == {"not": "a list"}


# ------------------------------------------------------------------ upstream HTTP framing


def read_response(raw: bytes, cuts: list[int]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of `raw` fed to the relay's reader in pieces cut at `cuts`."""
    pieces = [p for p in chunked(raw, cuts) if p]

    async def run() -> tuple[int, dict[str, str], bytes]:
        blocks = iter(pieces)

        async def read() -> bytes | None:
            return next(blocks, None)

        reader = ResponseReader(read)
        status, headers = await reader.head()
        body = b"".join([bytes(b) async for b in reader.body(status, headers)])
        return status, dict(headers), body

    return anyio.run(run)


http_bodies = st.binary(max_size=400)


@given(http_bodies, st.lists(st.integers(0, 1000), max_size=10))
def test_a_content_length_body_is_read_whatever_the_blocks(data: bytes, cuts: list[int]) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom\r\nContent-Length: %d\r\n\r\n" % len(data) + data
    status, headers, body = read_response(raw + b"trailing garbage is not body", cuts)
    assert (status, headers["content-type"], body) == (200, "application/dicom", data)


@given(st.lists(http_bodies, max_size=5), st.lists(st.integers(0, 3000), max_size=12))
def test_a_chunked_body_is_decoded_whatever_the_blocks(pieces: list[bytes], cuts: list[int]) -> None:
    framed = b"".join(b"%x;ext=1\r\n" % len(p) + p + b"\r\n" for p in pieces if p) + b"0\r\nX-Trailer: 1\r\n\r\n"
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed
    status, _, body = read_response(raw, cuts)
    assert (status, body) == (200, b"".join(pieces))


@given(http_bodies, st.lists(st.integers(0, 1000), max_size=10))
def test_a_body_without_length_runs_to_the_close(data: bytes, cuts: list[int]) -> None:
    status, headers, body = read_response(b"HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\n" + data, cuts)
    assert (status, headers["connection"], body) == (404, "close", data)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
    ],
    ids=["nothing", "not http", "bad header", "cut body", "bad chunk size", "chunk without crlf"],
)
def test_a_broken_upstream_answer_is_an_upstream_error(raw: bytes) -> None:
    with pytest.raises(UpstreamError) as exc:
        read_response(raw, [])
    assert exc.value.status == 502
