// Opens the websocket_chat example's page in two headless Chromium tabs,
// joins the same room from both, sends a message from one and checks that
// both see it (the browser's own WebSocket client against brisk), and that
// one sees the other leave. Then it opens a socket with a name over the
// limit and checks the browser reports close code 1008.
//
// Usage: node chat_test.mjs http://127.0.0.1:PORT
// Run by brisk/tests/websockets.rs; needs `npm ci` here and Debian's chromium.
import { baseUrl, fail, launch } from "./launch.mjs";

const base = baseUrl("chat_test.mjs");
const browser = await launch();
try {
  async function member(name) {
    const page = await browser.newPage();
    await page.goto(base + "/", { waitUntil: "load" });
    await page.fill("#room", "browsers");
    await page.fill("#name", name);
    await page.click("#join button");
    await page.waitForFunction(() => document.getElementById("status").textContent === "connected", null, { timeout: 10000 });
    return page;
  }
  const ann = await member("ann");
  const bob = await member("bob");
  await ann.waitForFunction(() => document.getElementById("log").textContent.includes("bob joined (2 here)"), null, { timeout: 10000 });
  await ann.fill("#text", "hello from chromium");
  await ann.click("#send");
  for (const [who, page] of [["ann", ann], ["bob", bob]]) {
    await page
      .waitForFunction(() => document.getElementById("log").textContent.includes("ann: hello from chromium"), null, { timeout: 10000 })
      .catch(() => fail(`${who} never saw the message`));
  }
  await bob.close();
  await ann.waitForFunction(() => document.getElementById("log").textContent.includes("bob left (1 here)"), null, { timeout: 10000 })
    .catch(() => fail("ann never saw bob leave"));

  // A bad parameter (a name over 32 characters): the browser sees 1008.
  const code = await ann.evaluate(
    (url) =>
      new Promise((resolve) => {
        const ws = new WebSocket(url);
        ws.onclose = (e) => resolve(e.code);
      }),
    base.replace("http", "ws") + "/ws/browsers?name=" + "x".repeat(40),
  );
  if (code !== 1008) fail(`expected close code 1008, got ${code}`);
  console.log("OK");
} finally {
  await browser.close();
}
