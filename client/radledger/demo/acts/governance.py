"""Act 1 of `radledger demo`: governance deploys the four contracts, registers the imaging site as
custodian, gives the emergency department the break-glass role, registers the credential schemas,
authorizes their issuers and registers the payer."""

from __future__ import annotations

from radledger.demo.data import (
    EMERGENCY_NAME,
    GATEWAY_URL,
    PAYER_NAME,
    PHYSICIST_NAME,
    SITE_NAME,
    SPECIALTY_BOARD_NAME,
    STATE_BOARD_NAME,
)
from radledger.demo.narration import short
from radledger.demo.result import DemoSchemas
from radledger.demo.scene import Cast, Scene
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy
from radledger.registries.preauth.types import DAY

YEAR = 365 * DAY
SCHEMAS = (
    # (attribute, on-chain name, maximum validity)
    ("license", "State Medical Board: physician and surgeon license", 2 * YEAR),
    ("board_certification", "Board of Diagnostic Radiology: board certification in radiology", 10 * YEAR),
    ("mri_inspection", "MRI annual medical physicist inspection", 400 * DAY),
    ("gold_card", "Keystone Health Plan: advanced imaging gold card", 2 * YEAR),
)


def governance(cast: Cast) -> Scene:
    """Deploy and set up the contracts; the scene every later act plays on."""
    w3, story, a = cast.w3, cast.story, cast.actors
    before = story.mark()
    deployment = Deployment.from_manifest(deploy(a.governance, manifest_path=None).manifest)
    records_gov = deployment.records(w3, a.governance)
    consent_gov = deployment.consent(w3, a.governance)
    creds_gov = deployment.credentials(w3, a.governance)
    preauth_gov = deployment.preauth(w3, a.governance)
    story.step(
        "governance", "deploys RecordRegistry, ConsentRegistry, CredentialRegistry and PreauthRegistry",
        story.receipts_since(before),
        ", ".join(f"{name} {short(address)}" for name, address in deployment.addresses().items()),
        f"break-glass window {consent_gov.break_glass_duration() // 3600} h; nothing written (no manifest)",
    )  # fmt: skip
    receipt = records_gov.register_custodian(a.site.address, GATEWAY_URL)
    story.step(
        "governance", f"registers {SITE_NAME} as custodian", [receipt],
        f"gateway (public, on chain): {GATEWAY_URL}",
        "its PACS stays private: the gateway answers requesters after checking the chain",
    )  # fmt: skip
    receipt = consent_gov.grant_role("BREAK_GLASS_ROLE", a.emergency.address)
    story.step("governance", f"gives {EMERGENCY_NAME} the break-glass role", [receipt])
    before = story.mark()
    schema_ids = {attr: creds_gov.register_schema(name, True, limit).schema_id for attr, name, limit in SCHEMAS}
    schemas = DemoSchemas(**schema_ids)
    schema_names = {schema_ids[attr]: name for attr, name, _ in SCHEMAS}
    story.step(
        "governance", "registers the credential schemas", story.receipts_since(before),
        *(f"schema {schema_ids[attr]}: {name!r}, revocable, at most {limit // DAY} days"
          for attr, name, limit in SCHEMAS),
    )  # fmt: skip
    issuers = (
        (schemas.license, a.state_board, STATE_BOARD_NAME),
        (schemas.board_certification, a.specialty_board, SPECIALTY_BOARD_NAME),
        (schemas.mri_inspection, a.physicist, PHYSICIST_NAME),
        (schemas.gold_card, a.payer, f"{PAYER_NAME}, for its own gold card"),
    )
    before = story.mark()
    for schema_id, issuer, _ in issuers:
        creds_gov.authorize_issuer(schema_id, issuer.address)
    story.step(
        "governance", "authorizes the issuers, one per schema", story.receipts_since(before),
        *(f"schema {schema_id}: {name} {short(issuer.address)}" for schema_id, issuer, name in issuers),
    )  # fmt: skip
    before = story.mark()
    payer_index = preauth_gov.register_payer(a.payer.address)
    story.step("governance", f"registers {PAYER_NAME} as a payer", story.receipts_since(before), f"index {payer_index}")
    return Scene(cast, deployment, schemas, schema_names)
