"""The consent-gated DICOMweb gateway of an imaging site (docs/gateway.md).

- :mod:`.app`: the ASGI app (`create_app`), QIDO-RS filtering, WADO-RS relay, refusals.
- :mod:`.tokens`: the EIP-712 gateway token, its verification and the used-nonce store.
- :mod:`.consent_check`: `accessBasis` with a short cache and the reason of a refusal.
- :mod:`.store`: the local study map and access log (SQLite).
- :mod:`.ingest`: registering studies (and amendments) from the PACS, stable-study events.
- :mod:`.reconcile`: the access log against the chain's AccessRecorded trail.
- :mod:`.requester`: signing tokens and retrieving consented studies (dicomweb-client).
- :mod:`.config`, :mod:`.context`: the configuration file and what a gateway process holds.
- :mod:`.upstream`, :mod:`.relay`, :mod:`.multipart`, :mod:`.links`: talking to the PACS.
- :mod:`.orthanc`, :mod:`.synthetic`: a locked-down local Orthanc and synthetic DICOM, for
  tests, benchmarks and trying it out.

Needs the `gateway` extra: ``pip install "radledger[gateway]"``.
"""
