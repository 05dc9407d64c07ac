import express, { type RequestHandler } from "express";
import { invalidInput } from "../errors";

/** A JSON number literal, as RFC 8259 spells it. */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** A decimal literal as sign, significant digits and exponent: two spellings of one value compare equal. */
function decimal(literal: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) return literal;
  const fraction = m[3] ?? "";
  let digits = (m[2] + fraction).replace(/^0+/, "");
  if (digits === "") return "0";
  let exponent = Number(m[4] ?? 0) - fraction.length;
  const trimmed = digits.replace(/0+$/, "");
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return `${m[1]}${digits}e${exponent}`;
}

/** Whether a number literal survives JSON.parse as the same value (no rounding, no overflow). */
export function holdsExactly(literal: string): boolean {
  const value = Number(literal);
  return Number.isFinite(value) && decimal(literal) === decimal(String(value).replace(/e\+/, "e"));
}

/**
 * Parses a request body as JSON, refusing what would be stored other than as sent or could exhaust
 * the stack: nesting deeper than `maxDepth`, a number JavaScript cannot hold exactly, and a
 * `__proto__` key (dropped or turned into a prototype by any object copy later on). One linear scan
 * before JSON.parse, so that a hostile body costs no recursion.
 */
export function parseStrictJson(text: string, maxDepth: number): unknown {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw invalidInput(`the body is nested deeper than ${maxDepth} levels`);
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const literal = NUMBER.exec(text)?.[0];
      if (!literal) break; // not JSON: JSON.parse says where
      if (!holdsExactly(literal)) throw invalidInput(`the number ${literal.slice(0, 40)} cannot be kept exactly: send it as a string`);
      i += literal.length - 1;
    }
  }
  try {
    return JSON.parse(text, (key, value) => {
      if (key === "__proto__") throw new ProtoKeyError();
      return value;
    });
  } catch (error) {
    if (error instanceof ProtoKeyError) throw invalidInput("the body holds a __proto__ key, which cannot be stored as sent");
    throw invalidInput("the request body is not valid JSON");
  }
}

class ProtoKeyError extends Error {}

/** The body parser of every route that takes JSON: express's reader for size and charset, then {@link parseStrictJson}. */
export function strictJsonBody(options: { limit: string; maxDepth: number }): RequestHandler {
  const read = express.text({ type: "application/json", limit: options.limit });
  return (req, res, next) =>
    read(req, res, (error?: unknown) => {
      if (error) return next(error);
      if (typeof req.body !== "string") return next();
      try {
        req.body = req.body === "" ? undefined : parseStrictJson(req.body, options.maxDepth);
        next();
      } catch (refused) {
        next(refused);
      }
    });
}
