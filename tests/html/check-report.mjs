// Open a fieldkit HTML report in headless Chromium (Debian's /usr/bin/chromium), take a
// full-page screenshot, and print JSON: every request the page made, the section ids, the
// visible text of key places, the findings as shown (severity of each card, rows of the
// collapsed informational table), the visible text before and after opening the first
// secret box, and console errors. The Rust test asserts on it.
// usage: node check-report.mjs REPORT.html SHOT.png
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [report, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
const requests = [];
const consoleErrors = [];
page.on('request', (r) => requests.push(r.url()));
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
const url = pathToFileURL(report).href;
await page.goto(url, { waitUntil: 'load' });
await page.screenshot({ path: shot, fullPage: true });
const sections = await page.$$eval('[id]', (els) => els.map((e) => e.id));
const headings = await page.$$eval('h1, h2, h3', (els) => els.map((e) => e.textContent.trim()));
const banner = await page.$eval('#integrity', (e) => e.textContent.trim());
const findings = await page.$$eval('.finding', (els) => els.map((e) => e.textContent.replace(/\s+/g, ' ').trim()));
const svgBars = await page.$$eval('#timeline ~ svg rect, svg rect', (els) => els.length);
const scripts = await page.$$eval('script, link, iframe, object, embed, img', (els) => els.length);
const cardSeverities = await page.$$eval('.finding > .sev', (els) => els.map((e) => e.textContent.trim()));
const infoRows = await page.$$eval('#findings-info tr.info-finding', (els) => els.length);
const infoOpen = await page.$$eval('#findings-info', (els) => els.map((e) => e.open));
const secrets = await page.$$eval('details.secret', (els) => els.map((e) => e.open));
const visibleText = await page.evaluate(() => document.body.innerText);
let revealedText = '';
if (secrets.length > 0) {
  await page.click('details.secret > summary');
  revealedText = await page.evaluate(() => document.body.innerText);
}
console.log(JSON.stringify({ url, requests, sections, headings, banner, findings, svgBars, scripts,
  cardSeverities, infoRows, infoOpen, secrets, visibleText, revealedText, consoleErrors }));
await browser.close();
