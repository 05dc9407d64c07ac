import hre from "hardhat";
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { DataUseRegistry__factory } from "../../typechain-types";
import { labelToId } from "../../core/ids";
import { ackMessage } from "../../server/deletion/outbox";
import { buildUi } from "../../scripts/lib/buildUi";
import { toDateInput } from "../../ui/src/time";
import { call, login, removeDir, startTestGateway, synced, type TestGateway } from "../helpers/gateway";
import { DESKTOP, PHONE, SCREENSHOTS, injectWallet, launchChromium, testWallet, type TestWallet } from "./browser";

/** A service's deletion-order webhook that accepts everything. */
async function webhook(): Promise<{ url: string; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push(body);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const UI_TIMEOUT = 20_000;
const visible = (locator: Locator) => locator.waitFor({ state: "visible", timeout: UI_TIMEOUT });

describe("wallet page (step 5), in Chromium with an injected EIP-6963 wallet", function () {
  this.timeout(180_000);

  let gw: TestGateway;
  let staticDir: string | undefined;
  let hook: Awaited<ReturnType<typeof webhook>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let wallet: TestWallet;
  let subject: HardhatEthersSigner;
  let service: HardhatEthersSigner;
  let serviceToken: string;
  const purpose = "dpv:ServiceProvision";

  const release = (category: string) =>
    call(gw.url, `/v1/subjects/${subject.address.toLowerCase()}/data/${category}?purpose=${encodeURIComponent(purpose)}`, serviceToken);
  const tab = async (name: string) => {
    await page.getByRole("tab", { name, exact: true }).click();
    await visible(page.getByRole("heading", { level: 2, name, exact: true }));
  };
  const activity = () => page.locator(".activity");
  /**
   * Clicks `button` to start a change and waits for that change (not an earlier one) to finish:
   * mined and indexed, refused, or rejected. Returns the activity panel's text.
   */
  const act = async (button: Locator): Promise<string> => {
    const before = await page.evaluate(() => document.querySelector(".activity")?.getAttribute("data-activity") ?? null);
    await button.click();
    await page.waitForFunction(
      (previous) => {
        const panel = document.querySelector(".activity");
        return !!panel && panel.getAttribute("data-activity") !== previous && /activity-(success|failed|rejected)/.test(panel.className);
      },
      before,
      { timeout: UI_TIMEOUT },
    );
    return activity().innerText();
  };
  /** Same, and the change must have succeeded (the page's own words are the failure message otherwise). */
  const succeeds = async (button: Locator): Promise<string> => {
    const text = await act(button);
    expect(text, text).to.contain("Done");
    return text;
  };
  const storeValue = async (category: string, value: string) => {
    await tab("My data");
    if (!(await page.getByLabel("Value").isVisible())) await page.getByText("Store a value yourself").click();
    await page.getByLabel("Category").fill(category);
    await page.getByLabel("Value").fill(value);
    await succeeds(page.getByRole("button", { name: "Store" }));
    await visible(page.locator(`tr[data-category='${category}']`));
  };
  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  before(async function () {
    [, subject, service] = await hre.ethers.getSigners();
    // The test builds the page itself, from the sources under test, into a directory of its own.
    staticDir = await buildUi({ outDir: mkdtempSync(join(tmpdir(), "dul-ui-")), minify: false });
    hook = await webhook();
    gw = await startTestGateway({
      staticDir,
      env: {
        SCHEDULER_INTERVAL_MS: "50",
        OUTBOX_INTERVAL_MS: "20",
        OUTBOX_BASE_DELAY_MS: "30",
        CHECKPOINT_INTERVAL_MS: "100",
        // The test anchors when it wants an anchor, to see the page without one first.
        ANCHOR_INTERVAL_MS: "3600000",
      },
    });
    serviceToken = await login(gw.url, service, gw.gateway.domain);
    const registered = await call(gw.url, "/v1/services/me", serviceToken, { method: "PUT", body: { displayName: "Acme Mail", webhookUrl: hook.url } });
    expect(registered.status).to.equal(200);
    browser = await launchChromium();
  });

  after(async function () {
    await browser?.close();
    await gw?.close();
    await hook?.close();
    if (gw) removeDir(gw.dataDir);
    if (staticDir) removeDir(staticDir);
  });

  it("says so when the browser has no wallet", async function () {
    const bare = await browser.newPage({ viewport: DESKTOP });
    await bare.goto(gw.url);
    await visible(bare.getByRole("heading", { name: "No wallet found" }));
    await bare.screenshot({ path: join(SCREENSHOTS, "no-wallet.png") });
    await bare.close();
  });

  it("connects through EIP-6963, switches from a wrong chain, and signs in after a rejected attempt", async function () {
    context = await browser.newContext({ viewport: DESKTOP });
    page = await context.newPage();
    wallet = testWallet(subject.address, 1);
    await injectWallet(page, wallet);
    await page.goto(gw.url);

    await page.getByRole("button", { name: "Connect Test Wallet" }).click();
    await visible(page.getByRole("heading", { name: "Wrong network" }));
    expect(await page.locator("main").innerText()).to.contain("Your wallet is on Ethereum mainnet").and.contain("chain id 31337");
    await shot("wrong-chain");

    await page.getByRole("button", { name: /Switch to/ }).click();
    await visible(page.getByRole("heading", { name: "Sign in" }));
    expect(wallet.chainId).to.equal(31337);

    wallet.reject.add("personal_sign");
    await page.getByRole("button", { name: "Sign in with Ethereum" }).click();
    await visible(page.getByText("You rejected the sign-in request in your wallet"));
    await shot("rejected");

    await page.getByRole("button", { name: "Sign in with Ethereum" }).click();
    await visible(page.getByRole("tab", { name: "Where my data flows" }));
    expect(await page.locator(".identity").innerText()).to.contain(`${subject.address.slice(0, 6)}`);
    expect(wallet.calls).to.include.members(["eth_requestAccounts", "wallet_switchEthereumChain", "personal_sign"]);

    // A reload keeps the session: no new connection prompt, no new signature.
    const prompts = wallet.calls.filter((m) => m === "eth_requestAccounts" || m === "personal_sign").length;
    await page.reload();
    await visible(page.getByRole("tab", { name: "Where my data flows" }));
    expect(wallet.calls.filter((m) => m === "eth_requestAccounts" || m === "personal_sign").length).to.equal(prompts);
  });

  it("lets a denied service read once the subject grants access in the page, and words a contract error", async function () {
    await storeValue("contact.email", "alice@example.org");
    expect(await page.locator("tr[data-category='contact.email']").innerText()).to.contain("Email address");

    const denied = await release("contact.email");
    expect(denied.status).to.equal(403);
    expect(denied.body.error.code).to.equal("NO_GRANT");

    await page.getByRole("radio", { name: /From my wallet/ }).check();
    await tab("My grants");
    const form = page.locator(".grant-form form");
    await form.getByLabel("Service", { exact: true }).selectOption({ label: `Acme Mail (${service.address.toLowerCase().slice(0, 8)}…)` });
    await form.getByLabel("Category").selectOption("contact.email");
    await form.getByLabel("Purpose").selectOption(purpose);
    // A date in the past: the registry refuses it, and the page says why in words.
    await form.getByLabel("Until: date and time").fill("2020-01-01T10:00");
    const refused = await act(form.getByRole("button", { name: "Grant access" }));
    expect(refused).to.contain("The registry refused").and.contain("is not in the future").and.contain("DataUseRegistryExpiryNotInFuture");
    await shot("failed");

    await form.getByLabel("1 day").check();
    const sendsBefore = wallet.calls.filter((m) => m === "eth_sendTransaction").length;
    const granted = await succeeds(form.getByRole("button", { name: "Grant access" }));
    expect(granted).to.match(/mined in block \d+/).and.contain("transaction from your wallet");
    expect(wallet.calls.filter((m) => m === "eth_sendTransaction").length).to.equal(sendsBefore + 1);

    const row = page.locator("table.grants tbody tr", { hasText: "Acme Mail" }).first();
    const text = await row.innerText();
    // One day or less left: the page flags it (and colours its flow) as expiring within a day.
    expect(text, text).to.contain("Email address").and.contain("Providing the service").and.contain("expiring soon");
    // The countdown is live: it starts at a full day and ticks below it by itself.
    await visible(row.getByText(/in 23 h 59 min/));
    expect(await row.locator(".party").getAttribute("title")).to.equal(service.address.toLowerCase());
    // Local times, with the absolute UTC time on hover.
    const grantedTime = row.locator("td[data-label='Granted'] time");
    const grantedAt = Date.parse((await grantedTime.getAttribute("datetime"))!);
    expect(await grantedTime.getAttribute("title")).to.equal(new Date(grantedAt).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"));

    const allowed = await release("contact.email");
    expect(allowed.status).to.equal(200);
    expect(allowed.body.value).to.equal("alice@example.org");
  });

  it("shows the release in the history and verifies its proof against the signed checkpoint, then the anchor", async function () {
    await gw.gateway.audit.checkpoint();
    await tab("Who used my data");
    const row = page.locator("table.history tbody tr", { hasText: "Read your Email address for providing the service" });
    await visible(row);
    expect(await row.innerText()).to.contain("Acme Mail");
    await row.getByRole("button", { name: "Verify" }).click();
    await visible(row.getByText(/✓ Verified in the gateway's signed checkpoint of \d+ entries/));
    expect(await row.innerText()).to.contain("Not anchored on-chain yet");

    const anchored = await gw.gateway.audit.anchor();
    expect(anchored).to.not.equal(null);
    await row.getByRole("button", { name: "Verify" }).click();
    await visible(row.getByText(`✓ Verified against the on-chain anchor of ${anchored!.treeSize} entries (block ${anchored!.blockNumber})`));
    await shot("history");
  });

  it("revokes gaslessly: the person signs typed data, the gateway relays, the service is denied", async function () {
    await page.getByRole("radio", { name: /Gasless/ }).check();
    await tab("My grants");
    const row = page.locator("table.grants tbody tr", { hasText: "Acme Mail" }).first();
    const sendsBefore = wallet.calls.filter((m) => m === "eth_sendTransaction").length;
    // While the wallet prompt is open, the page shows in words what the typed data says.
    let approve!: () => void;
    wallet.hold.set("eth_signTypedData_v4", new Promise<void>((resolve) => (approve = resolve)));
    const signing = act(row.getByRole("button", { name: "Revoke" }));
    const typed = page.locator(".activity .typed");
    await visible(typed);
    const fields = await typed.innerText();
    expect(fields).to.contain("Revoke (EIP-712)");
    expect(fields).to.contain(`${subject.address.toLowerCase()} (you)`);
    expect(fields).to.contain("Acme Mail · Email address · Providing the service");
    await shot("signing");
    approve();
    const revoked = await signing;
    expect(revoked, revoked).to.contain("Done").and.contain("gasless, relayed by the gateway");
    expect(wallet.calls).to.include("eth_signTypedData_v4");
    expect(wallet.calls.filter((m) => m === "eth_sendTransaction").length).to.equal(sendsBefore);
    const txHash = (await activity().locator(".mono").getAttribute("title"))!;
    const tx = await hre.ethers.provider.getTransaction(txHash);
    expect(tx!.from.toLowerCase()).to.equal(gw.deployment.deployer.toLowerCase());
    await visible(row.getByText("revoked", { exact: true }));

    const denied = await release("contact.email");
    expect(denied.status).to.equal(403);
    expect(denied.body.error.code).to.equal("GRANT_REVOKED");
  });

  it("deletes data at its expiry: the page shows it gone, the receipt, and the service's acknowledged deletion order", async function () {
    await storeValue("purchase.history", "order 1234: shoes");
    const record = page.locator("tr[data-category='purchase.history']");

    await tab("My grants");
    const form = page.locator(".grant-form form");
    if (!(await form.isVisible())) await page.getByText("Grant new access").click();
    await form.getByLabel("Category").selectOption("purchase.history");
    await form.getByLabel("Purpose").selectOption(purpose);
    await form.getByLabel("30 days").check();
    await succeeds(form.getByRole("button", { name: "Grant access" }));
    expect((await release("purchase.history")).status).to.equal(200);

    await tab("My data");
    await record.getByRole("button", { name: "Delete on a date…" }).click();
    const editor = page.locator("tr.editor form");
    await editor.getByLabel("1 hour").check();
    await succeeds(editor.getByRole("button", { name: "Set deletion date" }));
    const registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, hre.ethers.provider);
    const expiresAt = Number(await registry.dataExpiryOf(subject.address, labelToId("purchase.history")));
    expect(expiresAt).to.be.greaterThan(await time.latest());
    await visible(record.getByText(/in 59 min \d+ s/));
    await shot("data");

    await time.increaseTo(expiresAt);
    await synced(gw.gateway);
    await record.waitFor({ state: "detached", timeout: UI_TIMEOUT });
    await visible(page.locator(".deleted-list li", { hasText: "Purchase history" }));
    expect(await page.locator(".deleted-list").innerText()).to.contain("your deletion date arrived");
    expect((await release("purchase.history")).body.error.code).to.equal("DATA_EXPIRED");

    await tab("Deletions");
    await visible(page.locator("table.receipts tr", { hasText: "Purchase history" }));
    const order = page.locator("table.orders tbody tr", { hasText: "Purchase history" });
    await visible(order.getByText("delivered, awaiting confirmation"));
    expect(await order.innerText()).to.contain("Acme Mail").and.contain("your deletion date arrived");

    const id = (await order.getAttribute("data-order"))!;
    const ack = await call(gw.url, `/v1/deletion-orders/${id}/ack`, serviceToken, { method: "POST", body: { signature: await service.signMessage(ackMessage(id)) } });
    expect(ack.status).to.equal(200);
    await visible(order.getByText("deletion confirmed"));
    // When the service confirmed, as a date under the badge.
    expect(await order.locator("td[data-label='Status'] .hint").innerText()).to.match(/^confirmed .*\d/);
    await shot("deletions");

    await tab("Where my data flows");
    await visible(page.locator(".flow-item", { hasText: "Purchase history → Acme Mail: deletion confirmed" }));
    expect(await page.locator(".flow-list").innerText()).to.contain("Email address → Acme Mail: deletion ordered, 1 read");
    expect(await page.locator("svg.flow-svg path.flow-acknowledged").count()).to.equal(1);
    expect(await page.locator("svg.flow-svg path.flow-ordered").count()).to.equal(1);
  });

  it("clears a deletion date, and deletes a category on request with a receipt", async function () {
    await storeValue("profile.name", "Alice Example");
    const record = page.locator("tr[data-category='profile.name']");
    await record.getByRole("button", { name: "Delete on a date…" }).click();
    await page.locator("tr.editor form").getByLabel("30 days").check();
    await succeeds(page.locator("tr.editor form").getByRole("button", { name: "Set deletion date" }));
    await visible(record.getByText(/in (29 d 23 h|30 d 0 h)/));

    await record.getByRole("button", { name: "Change deletion date" }).click();
    const cleared = await succeeds(page.locator("tr.editor form").getByRole("button", { name: "Clear the date" }));
    expect(cleared).to.contain("Clear the deletion date of your Name");
    await visible(record.getByText("not set"));

    await record.getByRole("button", { name: "Delete now" }).click();
    const deleted = await succeeds(page.getByRole("button", { name: "Yes, delete Name" }));
    expect(deleted).to.match(/Deleted 1 record; the receipt is entry #\d+ of the access log/);
    await record.waitFor({ state: "detached", timeout: UI_TIMEOUT });
    await visible(page.locator(".deleted-list li", { hasText: "Name" }).getByText("deleted on request"));
    const records = await call(gw.url, `/v1/subjects/${subject.address.toLowerCase()}/data`, await login(gw.url, subject, gw.gateway.domain));
    expect(records.body.records.map((r: { category: string }) => r.category)).to.not.include("profile.name");
  });

  it("extends a grant, and draws each flow coloured by where it stands and weighted by reads", async function () {
    const [, , , shop] = await hre.ethers.getSigners();
    const shopToken = await login(gw.url, shop, gw.gateway.domain);
    expect((await call(gw.url, "/v1/services/me", shopToken, { method: "PUT", body: { displayName: "Northwind Shop", webhookUrl: null } })).status).to.equal(200);

    const grant = async (service: string, address: string, category: string, grantPurpose: string, choice: string) => {
      await tab("My grants");
      const form = page.locator(".grant-form form");
      if (!(await form.isVisible())) await page.getByText("Grant new access").click();
      await form.getByLabel("Service", { exact: true }).selectOption({ label: `${service} (${address.toLowerCase().slice(0, 8)}…)` });
      await form.getByLabel("Category").selectOption(category);
      await form.getByLabel("Purpose").selectOption(grantPurpose);
      await form.getByLabel(choice).check();
      await succeeds(form.getByRole("button", { name: "Grant access" }));
    };
    await grant("Northwind Shop", shop.address, "contact.email", "dpv:Marketing", "30 days");
    await grant("Acme Mail", service.address, "contact.phone", "dpv:CustomerCare", "1 hour");

    // Extend Northwind's grant to a date 60 days out, typed into the date field.
    const shopRow = page.locator("table.grants tbody tr", { hasText: "Northwind Shop" });
    await shopRow.getByRole("button", { name: "Change expiry" }).click();
    const editor = page.locator("tr.editor form");
    const target = (await time.latest()) + 60 * 86_400;
    await editor.getByLabel("New expiry, from now: date and time").fill(toDateInput(target));
    const extended = await succeeds(editor.getByRole("button", { name: "Set new expiry" }));
    expect(extended).to.contain("Extend Northwind Shop's use of your Email address for marketing");
    const registry = DataUseRegistry__factory.connect(gw.deployment.contracts.DataUseRegistry.address, hre.ethers.provider);
    const shopGrant = await registry.getGrant(subject.address, await registry.grantIdOf(subject.address, shop.address, labelToId("contact.email"), labelToId("dpv:Marketing")));
    // The date field has minute precision, in the browser's time zone (the same as this process's).
    expect(Number(shopGrant.expiresAt)).to.equal(target - (target % 60));

    for (let i = 0; i < 3; i += 1) {
      const read = await call(gw.url, `/v1/subjects/${subject.address.toLowerCase()}/data/contact.email?purpose=dpv:Marketing`, shopToken);
      expect(read.status).to.equal(200);
    }

    await tab("Where my data flows");
    const list = page.locator(".flow-list");
    await visible(list.getByText("Email address → Northwind Shop: active, 3 reads"));
    const flows = await list.innerText();
    expect(flows).to.contain("Phone number → Acme Mail: expiring within a day, 0 reads");
    expect(flows).to.contain("Email address → Acme Mail: deletion ordered, 1 read");
    expect(flows).to.contain("Purchase history → Acme Mail: deletion confirmed, 1 read");
    for (const status of ["active", "expiring", "ordered", "acknowledged"]) {
      expect(await page.locator(`svg.flow-svg path.flow-${status}`).count(), status).to.equal(1);
    }
    const width = (status: string) => page.locator(`svg.flow-svg path.flow-${status}`).getAttribute("stroke-width").then(Number);
    expect(await width("active")).to.be.greaterThan(await width("ordered"));
    expect(await width("ordered")).to.be.greaterThan(await width("expiring"));
  });

  it("works from the keyboard: arrow keys between sections, Enter on actions", async function () {
    await tab("Where my data flows");
    await page.getByRole("tab", { name: "Where my data flows", exact: true }).focus();
    await page.keyboard.press("ArrowRight");
    await visible(page.getByRole("heading", { level: 2, name: "My data", exact: true }));
    await page.keyboard.press("End");
    await visible(page.getByRole("heading", { level: 2, name: "Deletions", exact: true }));
    await page.keyboard.press("ArrowLeft");
    await visible(page.getByRole("heading", { level: 2, name: "Who used my data", exact: true }));
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("tab-history");

    const row = page.locator("table.history tbody tr", { hasText: "Read your Email address for marketing" }).first();
    await row.getByRole("button", { name: "Verify" }).focus();
    await page.keyboard.press("Enter");
    await visible(row.getByText(/✓ Verified in the gateway's signed checkpoint/));
  });

  it("lays every screen out on a desktop and on a phone", async function () {
    await page.getByRole("button", { name: "Dismiss" }).click();
    await activity().waitFor({ state: "detached" });
    const tabs = ["Where my data flows", "My data", "My grants", "Who used my data", "Deletions"];
    for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
      await page.setViewportSize(viewport);
      for (const [i, name] of tabs.entries()) {
        await tab(name);
        if (name === "My grants") await page.getByText("Grant new access").click();
        // Nothing may stick out sideways: a phone would have to scroll horizontally to read it.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${name} on a ${size} overflows by ${overflow}px`).to.be.at.most(0);
        await shot(`${size}-${i + 1}-${name.toLowerCase().replace(/\s+/g, "-")}`);
      }
    }
    await page.setViewportSize(DESKTOP);
  });

  it("revokes everything of a service at once", async function () {
    const [, , , shop] = await hre.ethers.getSigners();
    const shopToken = await login(gw.url, shop, gw.gateway.domain);
    await tab("My grants");
    await page.getByRole("button", { name: "Revoke everything of Northwind Shop" }).click();
    const done = await succeeds(page.getByRole("button", { name: "Yes, revoke all 1" }));
    expect(done).to.contain("Revoke everything you granted Northwind Shop");
    await visible(page.locator("table.grants tbody tr", { hasText: "Northwind Shop" }).getByText("revoked"));
    const read = await call(gw.url, `/v1/subjects/${subject.address.toLowerCase()}/data/contact.email?purpose=dpv:Marketing`, shopToken);
    expect(read.status).to.equal(403);
    expect(read.body.error.code).to.equal("GRANT_REVOKED");
  });
});
