"""Synthetic DICOM studies (pydicom) for tests, benchmarks and demos. No real patient, ever.

UIDs are `2.25.<uuid int>`; patients are named like ``SYNTHETIC^P0001``. Files are written in
DICOM file format (128-byte preamble, "DICM", file meta), as a PACS stores them, so that every
client can read them back.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage


def new_uid() -> str:
    """A fresh `2.25.<uuid int>` UID (ISO/IEC 9834-8)."""
    return f"2.25.{uuid.uuid4().int}"


@dataclass(frozen=True)
class SyntheticInstance:
    study_uid: str
    series_uid: str
    sop_uid: str
    data: bytes
    """The complete DICOM file (preamble included)."""
    pixels: bytes


def pixel_pattern(rows: int, columns: int, seed: int) -> bytes:
    """16-bit little-endian pixel data with a pattern that differs per seed."""
    size = rows * columns * 2
    row = bytes((seed * 7 + i) % 256 for i in range(512))
    return (row * (size // len(row) + 1))[:size]


def synthetic_instance(
    study_uid: str,
    series_uid: str,
    number: int,
    patient_id: str = "SYN0001",
    patient_name: str = "SYNTHETIC^P0001",
    rows: int = 16,
    columns: int = 16,
    seed: int | None = None,
    modality: str = "OT",
    sop_uid: str | None = None,
) -> SyntheticInstance:
    sop = sop_uid or new_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.StudyDescription = "SYNTHETIC STUDY"
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    pixels = pixel_pattern(rows, columns, number if seed is None else seed)
    ds.PixelData = pixels
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return SyntheticInstance(study_uid, series_uid, sop, buffer.getvalue(), pixels)


def synthetic_series(
    study_uid: str,
    instances: int = 3,
    patient_id: str = "SYN0001",
    patient_name: str = "SYNTHETIC^P0001",
    rows: int = 16,
    columns: int = 16,
    first_number: int = 1,
) -> list[SyntheticInstance]:
    """One new series of `instances` images in study `study_uid`."""
    series_uid = new_uid()
    return [
        synthetic_instance(study_uid, series_uid, first_number + i, patient_id, patient_name, rows, columns)
        for i in range(instances)
    ]


def synthetic_study(
    instances: int = 3,
    patient_id: str = "SYN0001",
    patient_name: str = "SYNTHETIC^P0001",
    rows: int = 16,
    columns: int = 16,
) -> list[SyntheticInstance]:
    """A new study of one series."""
    return synthetic_series(new_uid(), instances, patient_id, patient_name, rows, columns)
