"""The acts of `radledger demo`, one module a group: governance, credentials, prior authorization
(requests, decisions, the missed deadline, claims), imaging and consent, and the closing views.
:mod:`radledger.demo.story` calls them in order."""
