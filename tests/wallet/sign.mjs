// Test wallet bridge: signs EIP-712 typed data the way real wallets do, for the Python tests.
//
// stdin: one JSON object per line {"key": "0x...", "typedData": {...}, "library": "metamask" | "ethers"}
// stdout: one JSON line per request {"signature": "0x..."} or {"error": "..."}
//
// "metamask" is @metamask/eth-sig-util's signTypedData V4 (what MetaMask runs for
// eth_signTypedData_v4); "ethers" is ethers 6's Wallet.signTypedData (types without EIP712Domain).
import { createInterface } from "node:readline";
import { signTypedData, SignTypedDataVersion } from "@metamask/eth-sig-util";
import { Wallet } from "ethers";

async function sign({ key, typedData, library }) {
  if (library === "metamask") {
    const privateKey = Buffer.from(key.replace(/^0x/, ""), "hex");
    return signTypedData({ privateKey, data: typedData, version: SignTypedDataVersion.V4 });
  }
  if (library === "ethers") {
    const types = { ...typedData.types };
    delete types.EIP712Domain;
    return new Wallet(key).signTypedData(typedData.domain, types, typedData.message);
  }
  throw new Error(`unknown library ${library}`);
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    process.stdout.write(JSON.stringify({ signature: await sign(JSON.parse(line)) }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error && error.message ? error.message : error) }) + "\n");
  }
}
