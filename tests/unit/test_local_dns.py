"""The local DNS server's wire format and answers: pure functions and an in-memory source, no network."""

from __future__ import annotations

import struct

import pytest
from acmevault_cli.local.dns import (
    CAA,
    FORMERR,
    NOERROR,
    NOTIMP,
    NXDOMAIN,
    SERVFAIL,
    TXT,
    FileRecords,
    FormatError,
    LocalDns,
    TxtRecords,
    parse_query,
    parse_txt_value,
)


def query(name: str, qtype: int = TXT, ident: int = 0xBEEF, flags: int = 0x0100) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return struct.pack("!6H", ident, flags, 1, 0, 0, 0) + labels + struct.pack("!2H", qtype, 1)


def decode(response: bytes) -> tuple[int, int, list[list[bytes]]]:
    """(flags, rcode, TXT answers as their strings), reading the answers after the echoed question."""
    _, flags, qdcount, ancount = struct.unpack("!4H", response[:8])
    offset = 12
    for _ in range(qdcount):
        while response[offset]:
            offset += response[offset] + 1
        offset += 5
    answers = []
    for _ in range(ancount):
        assert response[offset : offset + 2] == b"\xc0\x0c"  # the owner is the question's name
        qtype, _, _, length = struct.unpack("!HHIH", response[offset + 2 : offset + 12])
        assert qtype == TXT
        rdata, strings, i = response[offset + 12 : offset + 12 + length], [], 0
        while i < len(rdata):
            strings.append(rdata[i + 1 : i + 1 + rdata[i]])
            i += 1 + rdata[i]
        answers.append(strings)
        offset += 12 + length
    return flags, flags & 0xF, answers


class Records:
    def __init__(self, records: dict[str, TxtRecords]) -> None:
        self.records = records

    def txt(self, name: str) -> TxtRecords | None:
        return self.records.get(name)


def test_a_txt_question_is_answered_with_every_record_at_the_name():
    server = LocalDns([Records({"_acme-challenge.example.com.": [(b"one",), (b"two",)]})])
    flags, rcode, answers = decode(server.answer(query("_acme-challenge.example.com")) or b"")
    assert rcode == NOERROR and answers == [[b"one"], [b"two"]]
    assert flags & 0x8000 and flags & 0x0400 and flags & 0x0100  # a response, authoritative, RD echoed
    assert server.asked("_ACME-challenge.example.com")[0].values == ("one", "two")


def test_the_answer_echoes_the_id_and_the_question_as_asked():
    server = LocalDns([Records({"_acme-challenge.example.com.": [(b"v",)]})])
    asked = query("_ACME-Challenge.Example.COM", ident=0x1234)
    response = server.answer(asked) or b""
    assert response[:2] == b"\x12\x34"
    assert response[12 : len(asked)] == asked[12:]


@pytest.mark.parametrize(
    ("name", "qtype", "rcode"),
    [
        ("nothing.example.com", TXT, NXDOMAIN),  # no such name
        ("_acme-challenge.example.com", CAA, NOERROR),  # the name exists; no CAA: anyone may issue
        ("_acme-challenge.example.com", 1, NOERROR),  # nor an address
    ],
)
def test_other_names_and_types_get_nxdomain_or_an_empty_answer(name, qtype, rcode):
    server = LocalDns([Records({"_acme-challenge.example.com.": [(b"v",)]})])
    _, got, answers = decode(server.answer(query(name, qtype)) or b"")
    assert (got, answers) == (rcode, [])


def test_sources_are_merged():
    server = LocalDns([Records({"a.example.com.": [(b"1",)]}), Records({"a.example.com.": [(b"2",)]})])
    assert decode(server.answer(query("a.example.com")) or b"")[2] == [[b"1"], [b"2"]]


def test_a_long_udp_answer_is_truncated_and_complete_over_tcp():
    many = [(bytes([65 + i]) * 200,) for i in range(4)]
    server = LocalDns([Records({"big.example.com.": many})])
    flags, _, answers = decode(server.answer(query("big.example.com")) or b"")
    assert flags & 0x0200 and answers == []  # TC: ask again over TCP
    assert decode(server.answer(query("big.example.com"), tcp=True) or b"")[2] == [list(r) for r in many]


def test_malformed_queries_get_formerr_or_nothing_and_other_opcodes_notimp():
    server = LocalDns([])
    assert server.answer(b"\x00\x01") is None
    assert decode(server.answer(struct.pack("!6H", 7, 0, 2, 0, 0, 0)) or b"")[1] == FORMERR  # two questions
    assert decode(server.answer(query("x.example.com")[:-3]) or b"")[1] == FORMERR  # cut short
    assert decode(server.answer(query("x.example.com", flags=0x2800)) or b"")[1] == NOTIMP  # UPDATE


def test_a_source_that_fails_gives_servfail():
    class Broken:
        def txt(self, name: str) -> TxtRecords | None:
            raise ConnectionError("moto is down")

    assert decode(LocalDns([Broken()]).answer(query("x.example.com")) or b"")[1] == SERVFAIL


@pytest.mark.parametrize(
    ("value", "strings"),
    [
        ('"abc"', (b"abc",)),
        ('"abc" "def"', (b"abc", b"def")),
        ('"say \\"hi\\""', (b'say "hi"',)),
        ('"tab\\009here"', (b"tab\there",)),
        ("bare", (b"bare",)),
        ('"' + "x" * 300 + '"', (b"x" * 255, b"x" * 45)),
    ],
)
def test_route53_txt_values_become_character_strings(value, strings):
    assert parse_txt_value(value) == strings


def test_a_query_is_parsed_to_its_name_and_type():
    parsed = parse_query(query("_Acme-Challenge.Example.com", CAA))
    assert (parsed.name, parsed.qtype, parsed.ident) == ("_acme-challenge.example.com.", CAA, 0xBEEF)
    with pytest.raises(FormatError):
        parse_query(query("x.example.com", flags=0x8000))  # a response, not a query


def test_file_records_are_one_value_per_line(tmp_path):
    (tmp_path / "_acme-challenge.example.com").write_text("one\n\ntwo\n")
    records = FileRecords(tmp_path)
    assert records.txt("_acme-challenge.example.com.") == [(b"one",), (b"two",)]
    assert records.txt("_acme-challenge.example.org.") is None
