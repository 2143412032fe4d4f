"""radledger: patient-controlled consent, credentials and prior authorization for medical imaging, on Ethereum.

The public API, importable from ``radledger`` alone::

    from radledger import ConsentRegistryClient, Deployment, KeySigner, Purpose, Scope, deploy_core

The layers underneath: :mod:`radledger.chain` (connection, signers,
transactions, artifacts, EIP-712, errors, event reading), :mod:`radledger.registries` (one typed
client per contract), :mod:`radledger.deployment`, then :mod:`radledger.audit` and
:mod:`radledger.gateway`, and at the top :mod:`radledger.cli` and :mod:`radledger.demo`.
Modules inside the package never import from this facade.
"""

from radledger.chain import errors
from radledger.chain.connection import DEFAULT_START_TIMESTAMP, connect, in_process_chain, tester_private_keys
from radledger.chain.errors import ContractError, RadledgerError, ValidationError
from radledger.chain.signers import KeySigner, Signer, UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Clients, Deployment
from radledger.deployment.deploy import deploy, deploy_core
from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis, Grant, Guardian
from radledger.registries.credentials.client import CredentialRegistryClient, device_id, subject_id
from radledger.registries.credentials.types import Attestation, CredentialStatus, RevocationReason
from radledger.registries.preauth.client import PreauthRegistryClient
from radledger.registries.preauth.types import ClaimStatus, Policy, PreauthRequest, PreauthStatus, X12ActionCode
from radledger.registries.records.client import RecordRegistryClient, new_site_salt, record_id
from radledger.registries.records.types import Custodian, Record

__all__ = [
    "DEFAULT_START_TIMESTAMP",
    "FOREVER",
    "AccessBasis",
    "Attestation",
    "ClaimStatus",
    "Clients",
    "ConsentRegistryClient",
    "ContractError",
    "CredentialRegistryClient",
    "CredentialStatus",
    "Custodian",
    "Deployment",
    "Grant",
    "Guardian",
    "KeySigner",
    "Policy",
    "PreauthRegistryClient",
    "PreauthRequest",
    "PreauthStatus",
    "Purpose",
    "RadledgerError",
    "Record",
    "RecordKind",
    "RecordRegistryClient",
    "RevocationReason",
    "Scope",
    "Signer",
    "Transactor",
    "UnlockedAccount",
    "ValidationError",
    "X12ActionCode",
    "connect",
    "deploy",
    "deploy_core",
    "device_id",
    "errors",
    "in_process_chain",
    "new_site_salt",
    "record_id",
    "subject_id",
    "tester_private_keys",
]
