// The report of a faulty run, opened in a real browser: starts `postato sim` with faults (5xx,
// 429s, resets, drops after commit, a per-account rate and a spent account), publishes
// examples/campaign.jsonl with `postato batch --events`, writes `postato report`, and opens it
// in Debian's Chromium (playwright-core through its executable path: no browser download).
// Fails on any console message of level error or warning, any page error, any request (the
// report must fetch nothing), or a chart that does not render.
//
//   node tests/report/check.mjs [--screenshot FILE.png]
//
// POSTATO_BIN names the CLI (default: target/debug/postato); CHROMIUM the browser (default:
// /usr/bin/chromium).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.POSTATO_BIN ?? path.join(ROOT, 'target', 'debug', 'postato');
const BROWSER = process.env.CHROMIUM ?? '/usr/bin/chromium';
const screenshotAt = process.argv.indexOf('--screenshot');
const screenshot = screenshotAt > 0 ? path.resolve(process.argv[screenshotAt + 1]) : null;

const dir = mkdtempSync(path.join(tmpdir(), 'postato-report-'));
const sim = spawn(
  BIN,
  [
    'sim',
    '--port=0',
    '--server-error-rate=0.08',
    '--rate-limited-rate=0.04',
    '--reset-rate=0.02',
    '--drop-after-commit-rate=0.03',
    '--account-rate=20',
    '--account-burst=5',
    '--spent-account=instagram/acc_instagram_main=8',
    '--seed=7',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
try {
  const baseUrl = await new Promise((resolve, reject) => {
    const late = setTimeout(() => reject(new Error('postato sim printed no address within 30 s')), 30_000);
    sim.stdout.once('data', (chunk) => {
      clearTimeout(late);
      resolve(String(chunk).split('\n')[0].trim());
    });
    sim.once('exit', (code) => reject(new Error(`postato sim exited with ${code}`)));
  });
  const run = (args) =>
    spawnSync(BIN, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, POSTATO_LOG: 'error' } });
  copyFileSync(path.join(ROOT, 'examples', 'campaign.jsonl'), path.join(dir, 'campaign.jsonl'));
  const batch = run([
    'batch',
    'campaign.jsonl',
    '--store=posts.db',
    '--events=events.jsonl',
    '--no-progress',
    '--max-retry-after-ms=2000',
    `--base-url=${baseUrl}`,
    '--api-key=sk_test_postato',
    '--workspace=ws_report',
  ]);
  // 5: posts deferred (the spent account); 3: dead letters (the campaign's invalid lines).
  if (![0, 3, 5].includes(batch.status)) throw new Error(`postato batch exited ${batch.status}: ${batch.stderr}`);
  const out = path.join(dir, 'report.html');
  const report = run(['report', '--events=events.jsonl', '--store=posts.db', `--out=${out}`]);
  if (report.status !== 0) throw new Error(`postato report exited ${report.status}: ${report.stderr}`);

  const browser = await chromium.launch({ executablePath: BROWSER, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems = [];
    page.on('console', (message) => {
      if (['error', 'warning'].includes(message.type())) problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (request.url() !== pathToFileURL(out).href) problems.push(`request: ${request.url()}`);
    });
    await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });
    // Every chart has marks of a visible size (a zero-width bar or a flat line at 0 is empty).
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => ({
        id: svg.id,
        width: svg.getBoundingClientRect().width,
        shapes: [...svg.querySelectorAll('rect[fill]:not([x="0"]),polyline')].filter((shape) => {
          const box = shape.getBBox();
          return box.width > 0 && box.height > 0;
        }).length,
      })),
    );
    for (const id of ['timeline', 'dead-letters', 'holds', 'deferrals', 'slowest']) {
      const chart = charts.find((c) => c.id === id);
      if (!chart || chart.width < 300 || chart.shapes === 0)
        problems.push(`chart ${id} not drawn: ${JSON.stringify(chart)}`);
    }
    const published = await page.$eval('tr[data-total="published"] td', (td) => Number(td.textContent));
    if (!(published > 0)) problems.push(`the totals show ${published} published`);
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    if (problems.length > 0) throw new Error(`the report does not render cleanly:\n  ${problems.join('\n  ')}`);
    console.log(
      `report: renders in Chromium ${browser.version()} with 0 console errors, 0 page errors, 0 requests; ` +
        `${charts.length} charts; ${published} published${screenshot ? `; screenshot ${path.relative(ROOT, screenshot)}` : ''}`,
    );
  } finally {
    await browser.close();
  }
} finally {
  sim.kill();
  rmSync(dir, { recursive: true, force: true });
}
