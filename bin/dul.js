#!/usr/bin/env node
// The auditor's command: runs the TypeScript CLI through ts-node, as the rest of the project does.
require("ts-node").register({ transpileOnly: true, project: require("node:path").join(__dirname, "..", "tsconfig.json") });
require("../cli/dul.ts");
