"""An auditor's questions, answered from the event index alone (no node needed); one module a domain.

- :mod:`.consent`: :func:`~.consent.consent_history`, everything that happened to a patient's
  consents, in order; :func:`~.consent.who_could_access`, who could access record X at time T, and
  under which grant (the record's own, or the patient's wildcard), made by the patient or a guardian,
  or by break-glass.
- :mod:`.accesses`: :func:`~.accesses.access_trail`, the recorded accesses of a record
  (``AccessRecorded``); :func:`~.accesses.break_glass_events`, emergency accesses in a period, with
  reason codes.
- :mod:`.credentials`: :func:`~.credentials.credential_history` and
  :func:`~.credentials.credential_standing`, a subject's attestations, and which were valid on a
  date (latest wins per issuer, as ``hasValidCredential``).
- :mod:`.preauth`: :func:`~.preauth.payer_requests`, a payer's prior-authorization requests and
  what was decided.
- :mod:`.raw`: :func:`~.raw.all_events`, every indexed event as it is.
- :mod:`.base`: the answer row (:class:`~.base.Found`) and the text forms every row uses.

Every answer row keeps the provenance of the event it comes from (block number and hash,
transaction hash, log index), which the exports print in every row. Times are block times
(unix seconds); "at T" means after every block whose time is at most T.
"""
