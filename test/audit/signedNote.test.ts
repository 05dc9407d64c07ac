import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  NoteError,
  SIG_ED25519,
  formatSignerKey,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  signerFromKey,
  verifierFromKey,
} from "../../core/signedNote";
import { Cosigner, cosignatureTime, cosignatureVerifier, parseCheckpointText } from "../../core/checkpoint";
import { checkpointNote } from "../../core/auditEntry";

/** Vectors from Go's reference implementation (golang/mod sumdb/note), read from ../shared (see its README). */
const VECTORS = join(__dirname, "..", "..", "..", "shared", "testdata", "signed-note", "vectors.json");
const v = JSON.parse(readFileSync(VECTORS, "utf8")) as {
  keys: { PeterNeumann: { signerKey: string; verifierKey: string; keyHash: string }; EnochRoot: { verifierKey: string; keyHash: string } };
  text: string;
  signedByPeter: string;
  signedByPeterAndEnoch: string;
  invalidSignatureForPeter: string;
  malformedNotes: string[];
  tooManySignatures: { note: string };
  badVerifierKeys: string[];
};

const codeOf = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (error) {
    expect(error).to.be.instanceOf(NoteError);
    return (error as NoteError).code;
  }
};

describe("C2SP signed notes (vectors from Go's reference)", function () {
  const peter = verifierFromKey(v.keys.PeterNeumann.verifierKey);
  const enoch = verifierFromKey(v.keys.EnochRoot.verifierKey);

  it("reads the verifier keys with their key IDs", function () {
    expect(peter.name).to.equal("PeterNeumann");
    expect(peter.keyId.toString(16).padStart(8, "0")).to.equal(v.keys.PeterNeumann.keyHash);
    expect(enoch.keyId.toString(16).padStart(8, "0")).to.equal(v.keys.EnochRoot.keyHash);
  });

  it("signs the text exactly as the reference does", function () {
    const signer = signerFromKey(v.keys.PeterNeumann.signerKey);
    expect(signer.keyId).to.equal(peter.keyId);
    expect(signNote(v.text, [signer])).to.equal(v.signedByPeter);
    // The signer key round-trips through its string form.
    const parsed = parseSignerKey(v.keys.PeterNeumann.signerKey);
    expect(formatSignerKey(parsed.name, SIG_ED25519, parsed.key)).to.equal(v.keys.PeterNeumann.signerKey);
  });

  it("opens a note signed by Peter, and one signed by both with only Peter's key", function () {
    const one = openNote(v.signedByPeter, [peter]);
    expect(one.text).to.equal(v.text);
    expect(one.verified.map((s) => s.name)).to.deep.equal(["PeterNeumann"]);
    const both = openNote(v.signedByPeterAndEnoch, [peter]);
    expect(both.verified.map((s) => s.name)).to.deep.equal(["PeterNeumann"]);
    expect(both.unverified.map((s) => s.name)).to.deep.equal(["EnochRoot"]);
    expect(openNote(v.signedByPeterAndEnoch, [peter, enoch]).verified).to.have.length(2);
  });

  it("refuses a note that no known key signed", function () {
    expect(codeOf(() => openNote(v.signedByPeter, [enoch]))).to.equal("unverified");
  });

  it("refuses every malformed note, a forged signature and more than 100 signatures", function () {
    for (const note of v.malformedNotes) expect(codeOf(() => openNote(note, [peter])), JSON.stringify(note)).to.equal("malformed");
    expect(codeOf(() => openNote(v.invalidSignatureForPeter, [peter]))).to.equal("invalid-signature");
    expect(codeOf(() => openNote(v.tooManySignatures.note, [peter]))).to.equal("malformed");
  });

  it("refuses every truncation and one-byte change of a verifier key, and the bad keys", function () {
    const vkey = v.keys.PeterNeumann.verifierKey;
    for (let i = 0; i < vkey.length; i++) {
      expect(codeOf(() => parseVerifierKey(vkey.slice(0, i))), `truncated to ${i}`).to.equal("bad-key");
      for (const delta of [1, -1]) {
        const changed = vkey.slice(0, i) + String.fromCharCode(vkey.charCodeAt(i) + delta) + vkey.slice(i + 1);
        expect(codeOf(() => parseVerifierKey(changed)), `byte ${i} changed to ${changed[i]}`).to.equal("bad-key");
      }
    }
    for (const bad of v.badVerifierKeys) expect(codeOf(() => parseVerifierKey(bad)), bad).to.equal("bad-key");
  });

  it("refuses to sign a text that does not end in a newline or holds a control character", function () {
    const signer = signerFromKey(v.keys.PeterNeumann.signerKey);
    expect(codeOf(() => signNote("no newline", [signer]))).to.equal("malformed");
    expect(codeOf(() => signNote("tab\there\n", [signer]))).to.equal("malformed");
  });
});

describe("C2SP checkpoints and cosignatures", function () {
  const root = "0x" + "ab".repeat(32);
  const text = checkpointNote("example.com/log", 42, root);

  it("reads back the checkpoint body the log writes, and refuses malformed ones", function () {
    expect(parseCheckpointText(text)).to.deep.equal({ origin: "example.com/log", treeSize: 42, rootHash: root });
    for (const bad of ["example.com/log\n042\n" + text.split("\n")[2] + "\n", "example.com/log\n42\n", "\n42\n" + text.split("\n")[2] + "\n", "example.com/log\n42\nAAAA\n"]) {
      expect(codeOf(() => parseCheckpointText(bad)), JSON.stringify(bad)).to.equal("malformed");
    }
  });

  it("cosigns with a timestamp that the verifier checks; a changed time or text fails", function () {
    const witness = new Cosigner("witness.example/w1", Buffer.alloc(32, 9));
    const line = witness.cosign(text, 1_700_000_000);
    const verifier = cosignatureVerifier(witness.verifierKey);
    const opened = openNote(`${text}\n${line}\n`, [verifier]);
    expect(cosignatureTime(opened.verified[0].signature)).to.equal(1_700_000_000);
    const other = checkpointNote("example.com/log", 43, root);
    expect(codeOf(() => openNote(`${other}\n${line}\n`, [verifier]))).to.equal("invalid-signature");
    const sig = Buffer.from(line.split(" ")[2], "base64");
    sig.writeBigUInt64BE(1_700_000_001n, 4);
    expect(codeOf(() => openNote(`${text}\n— witness.example/w1 ${sig.toString("base64")}\n`, [verifier]))).to.equal("invalid-signature");
    // A cosignature key is not a plain note key: the two types never verify each other's lines.
    expect(codeOf(() => parseVerifierKey(witness.verifierKey))).to.equal("bad-key");
  });
});
