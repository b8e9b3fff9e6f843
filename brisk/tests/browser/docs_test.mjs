// Opens brisk's Swagger UI in headless Chromium, checks that the operations
// are listed, uses "Try it out" on GET /items/{item_id} and checks the live
// response. Also checks that the page made no request off this machine.
//
// Usage: node docs_test.mjs http://127.0.0.1:PORT
// Run by brisk/tests/openapi.rs; needs `npm ci` here and Debian's chromium.
import { baseUrl, fail, launch } from "./launch.mjs";

const base = baseUrl("docs_test.mjs");
const browser = await launch();
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const offMachine = [];
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (!["127.0.0.1", "localhost"].includes(url.hostname) && !url.protocol.startsWith("data")) {
      offMachine.push(req.url());
    }
  });

  await page.goto(`${base}/docs`, { waitUntil: "load" });
  await page.waitForSelector(".opblock", { timeout: 20000 });
  const paths = await page.$$eval(".opblock-summary-path", (els) => els.map((e) => e.getAttribute("data-path") || e.textContent.trim()));
  for (const expected of ["/items/", "/items/{item_id}", "/users/me", "/users/{username}"]) {
    if (!paths.some((p) => p.replace(/\u200b/g, "") === expected)) {
      fail(`operation ${expected} not listed; saw ${JSON.stringify(paths)}`);
    }
  }
  console.log(`listed operations: ${paths.length}`);

  // Open GET /items/{item_id}, Try it out, fill item_id, Execute.
  const block = page.locator(".opblock.opblock-get", { has: page.locator('[data-path="/items/{item_id}"]') }).first();
  await block.locator(".opblock-summary").click();
  await block.locator("button.try-out__btn").click();
  await block.locator('tr[data-param-name="item_id"] input').fill("5");
  await block.locator("button.execute").click();
  const body = block.locator(".live-responses-table .response-col_description pre.microlight, .live-responses-table .response-col_description code").first();
  await body.waitFor({ timeout: 20000 });
  const text = (await body.textContent()) || "";
  if (!/"item_id":\s*5/.test(text)) {
    fail(`unexpected live response: ${text}`);
  }
  const status = ((await block.locator(".live-responses-table .response .response-col_status").first().textContent()) || "").trim();
  if (!status.startsWith("200")) {
    fail(`unexpected live status: ${status}`);
  }
  console.log(`try it out: ${status} ${text.replace(/\s+/g, " ")}`);

  if (offMachine.length) {
    fail(`the page requested resources off this machine: ${offMachine.join(", ")}`);
  }
  console.log("OK");
} finally {
  await browser.close();
}
