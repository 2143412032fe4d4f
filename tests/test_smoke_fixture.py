from radledger.models import RecordKind, Scope, Purpose
from radledger.records import record_id
from tests.conftest import Actors


def test_fixture_chain_isolated_between_tests_first(records, actors: Actors) -> None:
    rid = record_id(b"\x01" * 32, "1.2.3.4")
    records.register(rid, actors.patient_signer.address, RecordKind.IMAGING_STUDY, b"\x02" * 32)


def test_fixture_chain_isolated_between_tests_second(records, actors: Actors) -> None:
    rid = record_id(b"\x01" * 32, "1.2.3.4")
    records.register(rid, actors.patient_signer.address, RecordKind.IMAGING_STUDY, b"\x02" * 32)
