// Logs in through Swagger UI's "Authorize" dialog (the OAuth2 password
// flow) on the security_oauth2 example, then uses "Try it out" on
// GET /users/me/ and checks the protected route answered for johndoe.
//
// Usage: node authorize_test.mjs http://127.0.0.1:PORT
// Run by brisk/tests/examples.rs; needs `npm ci` here and Debian's chromium.
import { baseUrl, fail, launch } from "./launch.mjs";

const base = baseUrl("authorize_test.mjs");
const browser = await launch();
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`${base}/docs`, { waitUntil: "load" });
  await page.waitForSelector(".btn.authorize", { timeout: 20000 });
  await page.click(".btn.authorize");
  await page.waitForSelector("#oauth_username", { timeout: 10000 });
  await page.fill("#oauth_username", "johndoe");
  await page.fill("#oauth_password", "secret");
  const tokenAnswer = page.waitForResponse((r) => r.url().endsWith("/token"), { timeout: 20000 });
  await page.click(".auth-btn-wrapper .btn.modal-btn.auth.authorize");
  const token = await tokenAnswer;
  if (token.status() !== 200) fail(`POST /token answered ${token.status()}`);
  await page.waitForSelector(".auth-btn-wrapper .btn-done", { timeout: 10000 });
  await page.click(".auth-btn-wrapper .btn-done");

  const op = page.locator(".opblock", { has: page.locator('[data-path="/users/me/"]') }).first();
  await op.locator(".opblock-summary").click();
  await op.locator(".try-out__btn").click();
  const meAnswer = page.waitForResponse((r) => r.url().endsWith("/users/me/"), { timeout: 20000 });
  await op.locator(".execute").click();
  const me = await meAnswer;
  if (me.status() !== 200) fail(`GET /users/me/ answered ${me.status()}`);
  const body = await me.json();
  if (body.username !== "johndoe") fail(`unexpected body ${JSON.stringify(body)}`);
  if (!(me.request().headers()["authorization"] || "").startsWith("Bearer ")) {
    fail("the request did not carry the bearer token");
  }
  console.log("OK");
} finally {
  await browser.close();
}
