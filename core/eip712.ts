import type { TypedDataDomain, TypedDataField } from "ethers";

/**
 * The EIP-712 types of the actions a subject signs for the gateway to relay. They mirror the
 * typehashes in `contracts/DataUseRegistry.sol`; the contracts' tests prove the two agree.
 */
export const SIGNED_ACTION_TYPES = {
  Grant: [
    { name: "subject", type: "address" },
    { name: "grantee", type: "address" },
    { name: "category", type: "bytes32" },
    { name: "purpose", type: "bytes32" },
    { name: "expiresAt", type: "uint48" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  ChangeExpiry: [
    { name: "subject", type: "address" },
    { name: "grantId", type: "bytes32" },
    { name: "expiresAt", type: "uint48" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  Revoke: [
    { name: "subject", type: "address" },
    { name: "grantId", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  RevokeAll: [
    { name: "subject", type: "address" },
    { name: "grantee", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  SetDataExpiry: [
    { name: "subject", type: "address" },
    { name: "category", type: "bytes32" },
    { name: "expiresAt", type: "uint48" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const satisfies Record<string, readonly TypedDataField[]>;

export type SignedActionKind = keyof typeof SIGNED_ACTION_TYPES;

export interface SignedActionMessages {
  Grant: { subject: string; grantee: string; category: string; purpose: string; expiresAt: bigint | number; nonce: bigint; deadline: bigint | number };
  ChangeExpiry: { subject: string; grantId: string; expiresAt: bigint | number; nonce: bigint; deadline: bigint | number };
  Revoke: { subject: string; grantId: string; nonce: bigint; deadline: bigint | number };
  RevokeAll: { subject: string; grantee: string; nonce: bigint; deadline: bigint | number };
  SetDataExpiry: { subject: string; category: string; expiresAt: bigint | number; nonce: bigint; deadline: bigint | number };
}

/** The `types` argument of `signer.signTypedData` for one action: only that action's struct. */
export function typesFor(kind: SignedActionKind): Record<string, TypedDataField[]> {
  return { [kind]: SIGNED_ACTION_TYPES[kind].map((field) => ({ ...field })) };
}

/** Reads the registry's EIP-712 domain from the chain (EIP-5267), never from constants. */
export async function readDomain(registry: {
  eip712Domain(): Promise<[string, string, string, bigint, string, string, bigint[]] | { name: string; version: string; chainId: bigint; verifyingContract: string }>;
}): Promise<TypedDataDomain> {
  const [, name, version, chainId, verifyingContract] = (await registry.eip712Domain()) as unknown as [
    string,
    string,
    string,
    bigint,
    string,
  ];
  return { name, version, chainId, verifyingContract };
}
