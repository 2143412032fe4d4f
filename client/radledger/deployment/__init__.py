"""Deploying the contracts, recording the deployment, and finding it again.

Each module imports only those listed before it:

- :mod:`.manifest`, :mod:`.setup_file`: file formats (``deployments/<chainId>.json``, the setup TOML).
- :mod:`.networks`: the networks of ``networks.toml``.
- :mod:`.plan`: ``ContractSpec`` and the steps a deployment expands to.
- :mod:`.specs`: ``CONTRACTS``, the contracts of radledger (their role grants declared once).
- :mod:`.addresses`: ``Deployment`` (chain id, addresses, start blocks) and ``resolve_deployment``.
- :mod:`.runner`: running a plan (resumable, idempotent, recorded) and dry runs.
- :mod:`.deploy`: ``deploy``, ``deploy_core``, ``deploy_credentials``, ``deploy_preauth``.
- :mod:`.session`: ``Session`` (a node, a deployment, a signer) and ``SigningSetup``.
- :mod:`.verification`: ``verify_deployment``.
"""
