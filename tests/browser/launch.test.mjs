// Ocean's Referral System Launch in a real browser (Debian's Chromium, driven by playwright-core): Ocean
// (ocean-sim) sends the browser to the relay's launch, the relay hands it to the hub system (pos-sim),
// which redeems the context and lets the clinician accept; the relay's completion page confirms.
//   redirect mode: 303s all the way; the relay's pages refuse to be framed.
//   iframe mode:   Ocean's page (http://127.0.0.1:P) frames the relay (http://localhost:Q, another site),
//                  so the relay's cookie travels in a third-party context; other origins may not frame it.
// Then: no page, redirect or log line carries the generated patient's names, birth date or health number.
//
// Run by ctest (tests/browser/CMakeLists.txt), or by hand:
//   RELAY_OCEAN_SIM=.../ocean-sim RELAY_POS_SIM=.../pos-sim RELAY_LAUNCH=.../ocean-relay-launch \
//   RELAY_BROWSER_OUTPUT=/tmp/browser-output node --test tests/browser/launch.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { BRANDING, LISTING, SERVICE_ID, SITE, startStack } from './stack.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outputDir = process.env.RELAY_BROWSER_OUTPUT ?? path.join(here, 'output');
const binaries = {
  oceanSim: process.env.RELAY_OCEAN_SIM,
  posSim: process.env.RELAY_POS_SIM,
  launch: process.env.RELAY_LAUNCH,
};
for (const [name, file] of Object.entries(binaries)) {
  if (!file) throw new Error(`set RELAY_OCEAN_SIM, RELAY_POS_SIM and RELAY_LAUNCH (missing: ${name})`);
}
// Never a downloaded browser: the system's Chromium.
const CHROMIUM = process.env.RELAY_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const TIMEOUT = 60_000;

const profiles = path.join(outputDir, 'profiles');

before(() => {
  mkdirSync(outputDir, { recursive: true });
  rmSync(profiles, { recursive: true, force: true });
  mkdirSync(profiles);
});

// Browsers a failed test left open: closed here, or node would wait on them until ctest's timeout.
const openBrowsers = new Set();

after(async () => {
  await Promise.all([...openBrowsers].map((context) => context.close().catch(() => {})));
  rmSync(profiles, { recursive: true, force: true });
});

/// A browser of its own, with a regular profile, whose every response (every frame) is kept: URL,
/// status, headers, and the body of text answers, for the assertions and the final sweep.
/// `thirdPartyCookies`: "allowed" (the profile's cookie setting Ocean's embedded launch needs) or
/// "default" (this Chromium's own setting, which blocks them).
async function recordingContext(responses, { thirdPartyCookies = 'allowed' } = {}) {
  const profile = mkdtempSync(path.join(profiles, 'profile-'));
  if (thirdPartyCookies === 'allowed') {
    mkdirSync(path.join(profile, 'Default'));
    writeFileSync(
      path.join(profile, 'Default', 'Preferences'),
      JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }),
    );
  }
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1100, height: 900 },
  });
  openBrowsers.add(context);
  context.on('close', () => openBrowsers.delete(context));
  const pending = [];
  context.on('response', (response) => {
    pending.push(
      (async () => {
        const headers = await response.allHeaders().catch(() => response.headers());
        const entry = { url: response.url(), status: response.status(), headers, location: headers.location ?? '' };
        if (entry.status < 300 || entry.status >= 400) {
          if (/text|json|html|xml/.test(headers['content-type'] ?? ''))
            entry.body = await response.text().catch(() => '');
        }
        responses.push(entry);
      })(),
    );
  });
  context.settled = () => Promise.all(pending);
  return context;
}

async function launches(stack) {
  return (await fetch(`${stack.posAdmin}/launches`)).json();
}

/// The relay's header and footer: logo (loaded), company name, application name, category.
async function assertBranding(root) {
  const header = root.locator('header');
  const footer = root.locator('footer');
  const headerText = await header.innerText();
  assert.ok(headerText.includes(BRANDING.company_name), `company name in the header: ${headerText}`);
  assert.ok(headerText.includes(BRANDING.application_name), `application name in the header: ${headerText}`);
  assert.ok(headerText.includes(BRANDING.category), `category in the header: ${headerText}`);
  const footerText = await footer.innerText();
  for (const field of [BRANDING.company_name, BRANDING.application_name, BRANDING.category])
    assert.ok(footerText.includes(field), `${field} in the footer: ${footerText}`);
  const width = await header
    .locator('img')
    .evaluate((img) => img.decode().then(() => img.naturalWidth, () => 0));
  assert.ok(width > 0, 'the logo loads');
}

/// The frame that is not the page's own, once the relay answered it.
function childFrame(page) {
  return page.frames().find((f) => f !== page.mainFrame());
}

/// What a frame shows, or "" when it shows nothing readable (a blocked frame is an error page).
async function frameText(frame) {
  if (!frame) return '';
  try {
    return await frame.evaluate(() => document.body?.innerText ?? '');
  } catch {
    return '';
  }
}

/// A page on an origin Ocean's configuration does not list, framing `src`: served by the test on
/// loopback (a page of a public origin may not reach loopback at all: Chromium's local network access).
async function frameFromOtherOrigin(page, src) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!DOCTYPE html><html><body><h1>Not Ocean</h1><iframe id="launch" src="${src.replace(/&/g, '&amp;')}"></iframe></body></html>`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const origin = `http://127.0.0.1:${server.address().port}`;
    const relayAnswered = page.waitForResponse((r) => r.url().startsWith(src.split('?')[0]));
    await page.goto(`${origin}/framer`);
    const answer = await relayAnswered;
    // The browser decides about the frame once the answer's headers are in; let it.
    await page.waitForTimeout(1000);
    return { answer, origin };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/// No patient name, birth date or health number in any URL, Location, body or log line.
function assertNoPatientData(stack, responses) {
  assert.ok(stack.patient.length >= 4, `the patient's fields are known: ${stack.patient.length}`);
  const places = [];
  for (const r of responses) {
    places.push([`URL ${r.url}`, r.url], [`Location of ${r.url}`, r.location], [`body of ${r.url}`, r.body ?? '']);
  }
  for (const name of ['ocean-relay-launch', 'pos-sim', 'ocean-sim']) places.push([`${name}'s log`, stack.log(name)]);
  assert.ok(places.length > 10);
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const field of stack.patient) {
    const forms = [field, encodeURIComponent(field), field.replace(/ /g, '+')];
    const pattern = new RegExp(`(^|[^\\p{L}\\p{N}])(${forms.map(escape).join('|')})($|[^\\p{L}\\p{N}])`, 'u');
    assert.ok(pattern.test(stack.webhooks.bodies[0]), 'the sweep finds the field where it is: in the bundle Ocean sent');
    for (const [where, text] of places) assert.ok(!pattern.test(text), `patient data (${field.length} characters) in ${where}`);
  }
}

describe('redirect mode', () => {
  let stack;
  const responses = [];
  before(async () => {
    stack = await startStack({ mode: 'redirect', outputDir, binaries });
  });
  after(async () => {
    await stack?.stop();
  });

  test('Ocean redirects to the relay, the relay to pos-sim; Accept ends on the confirmation', { timeout: TIMEOUT }, async () => {
    const { ref } = stack.referral;
    assert.equal(stack.referral.listing_ref, LISTING);
    assert.equal(stack.referral.external_service_id, SERVICE_ID);
    const context = await recordingContext(responses);
    const page = await context.newPage();
    await page.goto(`${stack.ocean}/ocean-ui/referrals/${ref}/sent`);
    await page.waitForURL((url) => url.href.startsWith(`${stack.pos}/launch?launch_context=`));
    assert.equal(await page.locator('#referral-ref').innerText(), ref);
    await context.settled();

    const fromOcean = responses.find((r) => r.url.startsWith(`${stack.ocean}/ocean-ui/`));
    assert.equal(fromOcean.status, 303);
    const launchUrl = new URL(fromOcean.location);
    assert.equal(launchUrl.origin + launchUrl.pathname, `${stack.relay}/ocean/demo/launch`);
    assert.equal(launchUrl.searchParams.get('referralRef'), ref);
    assert.equal(launchUrl.searchParams.get('siteNum'), SITE);
    assert.equal(launchUrl.searchParams.get('listingRef'), LISTING);
    assert.equal(launchUrl.searchParams.get('externalServiceId'), SERVICE_ID);
    assert.match(launchUrl.searchParams.get('launch'), /^[A-Za-z0-9_-]{16,}$/);
    const handOff = responses.find((r) => r.url.startsWith(`${stack.relay}/ocean/demo/launch?`));
    assert.equal(handOff.status, 303);
    assert.ok(handOff.location.startsWith(`${stack.pos}/launch?launch_context=`), handOff.location);
    assert.match(handOff.headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.match(handOff.headers['set-cookie'] ?? '', /SameSite=Lax/i);

    let seen = await launches(stack);
    assert.equal(seen.redeemed, 1, JSON.stringify(seen));
    const [launch] = seen.items;
    assert.equal(launch.referral_ref, ref);
    assert.equal(launch.site, SITE);
    assert.equal(launch.integration, 'demo');
    assert.equal(launch.listing_ref, LISTING);
    assert.equal(launch.external_service_id, SERVICE_ID);
    assert.equal(launch.hub_system, 'pos-1');
    assert.equal(launch.patient_received, true);
    await page.screenshot({ path: path.join(outputDir, 'redirect-hub-system.png'), fullPage: true });
    const hubPage = page.url();

    await page.click('#accept');
    await page.waitForURL((url) => url.href.startsWith(`${stack.relay}/ocean/demo/launch/complete?`));
    assert.equal(new URL(page.url()).searchParams.get('outcome'), 'accepted');
    assert.ok((await page.locator('main#message').innerText()).includes(BRANDING.confirmation_message));
    await assertBranding(page);
    await page.screenshot({ path: path.join(outputDir, 'redirect-complete.png'), fullPage: true });
    seen = await launches(stack);
    assert.equal(seen.items[0].decision, 'accepted');

    // The context was redeemed once: opening pos-sim's link again is refused by the relay.
    await page.goto(hubPage);
    assert.match(await page.locator('#error').innerText(), /redeem refused: 410/);
    await context.settled();
    await context.close();
  });

  test('Decline ends on the relay\'s "not accepted" page', { timeout: TIMEOUT }, async () => {
    const context = await recordingContext(responses);
    const page = await context.newPage();
    await page.goto(`${stack.ocean}/ocean-ui/referrals/${stack.referral.ref}/sent`);
    await page.waitForURL((url) => url.href.startsWith(`${stack.pos}/launch?`));
    await page.click('#decline');
    await page.waitForURL((url) => url.href.startsWith(`${stack.relay}/ocean/demo/launch/complete?`));
    assert.equal(new URL(page.url()).searchParams.get('outcome'), 'declined');
    assert.match(await page.locator('main#message').innerText(), /did not accept/);
    const seen = await launches(stack);
    assert.equal(seen.declined, 1, JSON.stringify(seen));
    await context.settled();
    await context.close();
  });

  test('the relay\'s pages refuse to be framed', { timeout: TIMEOUT }, async () => {
    // A framed launch: the relay answers with its own refusal page, which the browser must not show.
    const link = `${stack.relay}/ocean/demo/launch?referralRef=no-such-referral&siteNum=${SITE}&listingRef=${LISTING}&launch=x`;
    const context = await recordingContext(responses);
    const page = await context.newPage();
    const { answer } = await frameFromOtherOrigin(page, link);
    assert.equal(answer.status(), 403);
    assert.match((await answer.allHeaders())['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.equal((await answer.allHeaders())['x-frame-options'], 'DENY');
    const shown = await frameText(childFrame(page));
    assert.ok(!shown.includes(BRANDING.application_name) && !shown.includes('outside a frame'), shown);
    await page.screenshot({ path: path.join(outputDir, 'redirect-framing-refused.png'), fullPage: true });
    await context.settled();
    await context.close();
  });

  // Chromium applies frame-ancestors to the final answer only, not to a 303 on the way: the relay
  // refuses a launch the browser says is bound for a frame (Sec-Fetch-Dest) before any redirect.
  test('a framed launch never reaches the hub system', { timeout: TIMEOUT }, async () => {
    const before = (await launches(stack)).launches;
    const sent = await fetch(`${stack.ocean}/ocean-ui/referrals/${stack.referral.ref}/sent`, { redirect: 'manual' });
    assert.equal(sent.status, 303);
    const context = await recordingContext(responses);
    const page = await context.newPage();
    try {
      const { answer } = await frameFromOtherOrigin(page, sent.headers.get('location'));
      assert.match((await answer.allHeaders())['content-security-policy'] ?? '', /frame-ancestors 'none'/);
      const shown = await frameText(childFrame(page));
      assert.ok(!shown.includes('Incoming referral'), shown);
      assert.equal((await launches(stack)).launches, before, 'the framed launch reached pos-sim');
    } finally {
      await context.settled();
      await context.close();
    }
  });

  test('no patient data in any page, Location or log line', { timeout: TIMEOUT }, async () => {
    const seen = await (await fetch(`${stack.posAdmin}/launches`)).text();
    assertNoPatientData(stack, [...responses, { url: `${stack.posAdmin}/launches`, location: '', body: seen }]);
  });
});

describe('iframe mode', () => {
  let stack;
  const responses = [];
  before(async () => {
    // No public_url: the completeUrl is a path, which pos-sim resolves against the relay's URL.
    stack = await startStack({ mode: 'iframe', outputDir, binaries, publicUrl: false, handoffDelay: '5s' });
  });
  after(async () => {
    await stack?.stop();
  });

  test('Ocean\'s page frames the hand-off, pos-sim and the confirmation (a third-party context)', { timeout: TIMEOUT }, async () => {
    const { ref } = stack.referral;
    const context = await recordingContext(responses);
    const page = await context.newPage();
    await page.goto(`${stack.ocean}/ocean-ui/referrals/${ref}/sent`);
    assert.equal(await page.locator('h1').innerText(), 'Referral sent');
    const frame = page.frameLocator('iframe#launch');
    const handOffLink = frame.locator('a#continue');
    await handOffLink.waitFor();
    assert.equal(await handOffLink.innerText(), `Continue to ${BRANDING.application_name}`);
    assert.ok((await handOffLink.getAttribute('href')).startsWith(`${stack.pos}/launch?launch_context=`));
    await assertBranding(frame);
    await page.screenshot({ path: path.join(outputDir, 'iframe-handoff.png'), fullPage: true });

    await context.settled();
    const handOff = responses.find((r) => r.url.startsWith(`${stack.relay}/ocean/demo/launch?`));
    assert.equal(handOff.status, 200);
    assert.equal(handOff.headers['x-frame-options'], undefined);
    assert.match(handOff.headers['content-security-policy'] ?? '', new RegExp(`frame-ancestors ${stack.ocean}(;|$)`));
    assert.match(handOff.headers['set-cookie'] ?? '', /SameSite=None/i);
    assert.match(handOff.headers['set-cookie'] ?? '', /Secure/i);

    // The hand-off page continues by itself after handoff_delay, inside the frame.
    const referralRef = frame.locator('#referral-ref');
    await referralRef.waitFor({ timeout: 20_000 });
    assert.equal(await referralRef.innerText(), ref);
    assert.equal((await launches(stack)).redeemed, 1);
    await page.screenshot({ path: path.join(outputDir, 'iframe-hub-system.png'), fullPage: true });

    await frame.locator('#accept').click();
    const message = frame.locator('main#message');
    await message.waitFor();
    // The completion page needs the cookie set at launch: it shows the confirmation only if the browser
    // sent the SameSite=None cookie from inside Ocean's page.
    assert.ok((await message.innerText()).includes(BRANDING.confirmation_message), await message.innerText());
    await assertBranding(frame);
    assert.ok(page.url().startsWith(`${stack.ocean}/ocean-ui/`), 'the top page is still Ocean\'s');
    const completion = childFrame(page).url();
    assert.ok(completion.startsWith(`${stack.relay}/ocean/demo/launch/complete?`), completion);
    assert.equal(new URL(completion).searchParams.get('outcome'), 'accepted');
    assert.equal((await launches(stack)).items[0].decision, 'accepted');
    await page.screenshot({ path: path.join(outputDir, 'iframe-complete.png'), fullPage: true });
    await context.settled();
    await context.close();
  });

  // The relay's cookie is a third-party one inside Ocean's page; this Chromium blocks those unless the
  // profile allows them, and only a cookie partitioned by the top-level site (CHIPS) is kept then.
  test('the framed launch completes with third-party cookies blocked', { timeout: TIMEOUT }, async () => {
    const context = await recordingContext(responses, { thirdPartyCookies: 'default' });
    try {
      const page = await context.newPage();
      await page.goto(`${stack.ocean}/ocean-ui/referrals/${stack.referral.ref}/sent`);
      const frame = page.frameLocator('iframe#launch');
      await frame.locator('#accept').click({ timeout: 20_000 });
      const message = frame.locator('main#message');
      await message.waitFor();
      assert.ok((await message.innerText()).includes(BRANDING.confirmation_message), await message.innerText());
    } finally {
      await context.settled();
      await context.close();
    }
  });

  test('a page from another origin cannot frame the launch', { timeout: TIMEOUT }, async () => {
    const before = (await launches(stack)).launches;
    const oceanPage = await (await fetch(`${stack.ocean}/ocean-ui/referrals/${stack.referral.ref}/sent`)).text();
    const src = /<iframe id="launch"[^>]* src="([^"]+)"/.exec(oceanPage)[1].replace(/&amp;/g, '&');
    const context = await recordingContext(responses);
    const page = await context.newPage();
    const { answer, origin } = await frameFromOtherOrigin(page, src);
    const policy = (await answer.allHeaders())['content-security-policy'] ?? '';
    assert.match(policy, /frame-ancestors /);
    assert.ok(!policy.includes(origin), policy);
    const shown = await frameText(childFrame(page));
    assert.ok(!shown.includes(BRANDING.application_name) && !shown.includes('Continue to'), shown);
    // The hand-off page would have continued to pos-sim by now if it had been shown.
    await page.waitForTimeout(6000);
    assert.equal((await launches(stack)).launches, before, 'the refused frame never reached pos-sim');
    await page.screenshot({ path: path.join(outputDir, 'iframe-other-origin-refused.png'), fullPage: true });
    await context.settled();
    await context.close();
  });

  test('no patient data in any page, Location or log line', { timeout: TIMEOUT }, async () => {
    const seen = await (await fetch(`${stack.posAdmin}/launches`)).text();
    assertNoPatientData(stack, [...responses, { url: `${stack.posAdmin}/launches`, location: '', body: seen }]);
  });
});
