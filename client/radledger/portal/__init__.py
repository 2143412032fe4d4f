"""The patient portal (``radledger portal serve``): a site-served page where a patient's wallet signs
EIP-712 consents, and the relay that checks and sends them with the site's key.

Layer: above chain/, registries/, deployment/ and audit/; the `gateway` extra's packages
(Starlette, uvicorn) are imported by :mod:`radledger.portal.app` only.
"""
