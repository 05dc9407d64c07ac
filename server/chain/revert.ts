import { isCallException, type Interface } from "ethers";

export interface DecodedRevert {
  /** The custom error's name, e.g. `DataUseRegistryInvalidSignature`. */
  name: string;
  args: Record<string, string>;
}

/** Decodes a contract revert into its custom error, or null when it is not one of `iface`'s. */
export function decodeRevert(iface: Interface, error: unknown): DecodedRevert | null {
  const data = revertData(error);
  if (!data) return null;
  const parsed = iface.parseError(data);
  if (!parsed) return null;
  const args: Record<string, string> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name || String(i)] = String(parsed.args[i]);
  });
  return { name: parsed.name, args };
}

function revertData(error: unknown): string | null {
  if (isCallException(error) && typeof error.data === "string") return error.data;
  // Hardhat's in-process provider throws its own error carrying the revert data.
  const direct = (error as { data?: unknown } | null)?.data;
  if (typeof direct === "string" && direct.startsWith("0x")) return direct;
  const nested = (error as { error?: { data?: unknown }; info?: { error?: { data?: unknown } } }) ?? {};
  for (const candidate of [nested.error?.data, nested.info?.error?.data]) {
    if (typeof candidate === "string" && candidate.startsWith("0x")) return candidate;
    if (candidate && typeof (candidate as { data?: unknown }).data === "string") return (candidate as { data: string }).data;
  }
  return null;
}
