// The processes of one Referral System Launch on loopback, started by the browser test: ocean-sim
// (Ocean: sends one referral to a webhook receiver here, then serves its Open API and the browser's
// "sent" page), ocean-relay-launch (the relay) and pos-sim (the hub system). Configs, logs and a logo are
// written under the test's output folder; every port is picked free.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, writeFileSync, createWriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';

export const SITE = '1234';
export const LISTING = 'browser-listing-1';
export const SERVICE_ID = 'ESID-BROWSER';
export const BRANDING = {
  company_name: 'Lakeshore Health Systems',
  application_name: 'Lakeshore Intake',
  category: 'Regional intake',
  referral_form: 'Lakeshore referral form',
  confirmation_message: 'Thank you: Lakeshore Intake has accepted this referral.',
};
const SITE_KEY = 'browser-test-site-key';
const SITE_CREDENTIAL = 'browser-test-site-credential';
const SEK = 'browser-test-sek';
const HUB_TOKEN = 'pos-1-launch-token-for-the-browser-test';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// Polls `url` until it answers 2xx (or `ms` pass).
export async function waitFor(url, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const res = await fetch(url);
      if (res.ok) return res;
      last = `status ${res.status}`;
    } catch (e) {
      last = e.message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up: ${last}`);
}

/// A 48x24 two-colour PNG (no external assets: the relay serves the logo from its config).
export function logoPng() {
  const width = 48;
  const height = 24;
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = [0];
    for (let x = 0; x < width; x++) row.push(...(x < width / 2 ? [11, 83, 148] : [242, 176, 30]));
    rows.push(Buffer.from(row));
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/// Ocean's webhook target: answers 200 and keeps the bundles (the generated patient comes from there).
async function startWebhookReceiver() {
  const bodies = [];
  const server = createServer((req, res) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => {
      bodies.push(Buffer.concat(parts).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, bodies, port: server.address().port };
}

/// The generated patient's names, birth date and health number, from the FHIR bundle Ocean sent.
export function patientFields(bundleText) {
  const bundle = JSON.parse(bundleText);
  const patient = bundle.entry.map((e) => e.resource).find((r) => r.resourceType === 'Patient');
  const out = [];
  for (const name of patient.name ?? []) {
    if (name.family) out.push(name.family);
    for (const given of name.given ?? []) out.push(given);
    if (name.text) out.push(name.text);
  }
  if (patient.birthDate) out.push(patient.birthDate);
  for (const id of patient.identifier ?? []) if (id.value) out.push(id.value);
  return out;
}

function startProcess(name, binary, config, dir) {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, config);
  const log = { text: '' };
  const child = spawn(binary, ['--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(path.join(dir, `${name}.log`));
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (d) => {
      log.text += d.toString('utf8');
      out.write(d);
    });
  }
  child.on('exit', (code, signal) => {
    log.exit = { code, signal };
    out.end();
  });
  return { name, child, log };
}

/// Starts ocean-sim, the relay and pos-sim for one launch mode and waits for ocean-sim's referral.
export async function startStack({ mode, outputDir, binaries, publicUrl = true, handoffDelay = '5s' }) {
  const dir = path.join(outputDir, mode);
  mkdirSync(dir, { recursive: true });
  const logo = path.join(dir, 'logo.png');
  writeFileSync(logo, logoPng());
  const webhooks = await startWebhookReceiver();
  const ports = {};
  for (const key of ['ocean', 'oceanAdmin', 'relay', 'relayAdmin', 'pos', 'posAdmin']) ports[key] = await freePort();
  const ocean = `http://127.0.0.1:${ports.ocean}`;
  // The relay's browser-facing origin: another site than Ocean's (127.0.0.1), as in production.
  const relay = `http://localhost:${ports.relay}`;
  const pos = `http://127.0.0.1:${ports.pos}`;
  const sites = `[{site: "${SITE}", site_key: {value: ${SITE_KEY}}, site_credential: {value: ${SITE_CREDENTIAL}}, sek: {value: ${SEK}}}]`;

  const oceanSim = `log_level: info
admin: {address: 127.0.0.1, port: ${ports.oceanAdmin}}
webhooks:
  target_url: "http://127.0.0.1:${webhooks.port}/ocean/fhir"
  count: 1
  seed: 11
  site_number: "${SITE}"
  listing_ref: ${LISTING}
  external_service_id: ${SERVICE_ID}
api:
  listener: {address: 127.0.0.1, port: ${ports.ocean}}
  signing_key: {value: browser-test-ocean-sim-signing-key-0123456789}
  clients: [{client_id: browser-test, client_secret: {value: browser-test-secret}}]
  sites: [{site_num: "${SITE}", site_key: {value: ${SITE_KEY}}, site_credential: {value: ${SITE_CREDENTIAL}}, sek: {value: ${SEK}}}]
launch:
  url: "${relay}/ocean/demo/launch"
  mode: ${mode}
`;
  const frameAncestors = mode === 'iframe' ? `\n    frame_ancestors: ["${ocean}"]` : '';
  const relayConfig = `service: {log_level: info}
admin: {address: 127.0.0.1, port: ${ports.relayAdmin}}
listener: {address: 127.0.0.1, port: ${ports.relay}}
${publicUrl ? `public_url: "${relay}"` : ''}
ocean:
  base_url: "${ocean}"
  timeout: 5s
  sites: ${sites}
signing_key: {value: "browser-test-launch-signing-key-0123456789abcdef"}
context_ttl: 60s
hub_systems:
  - {id: pos-1, auth: {scheme: bearer, token: {value: ${HUB_TOKEN}}}}
integrations:
  - id: demo
    site: "${SITE}"
    mode: ${mode}${frameAncestors}
    handoff_delay: ${handoffDelay}
    branding:
      company_name: ${BRANDING.company_name}
      application_name: ${BRANDING.application_name}
      category: ${BRANDING.category}
      referral_form: ${BRANDING.referral_form}
      confirmation_message: "${BRANDING.confirmation_message}"
      logo: {file: "${logo}", content_type: image/png}
    targets:
      - {listing_ref: ${LISTING}, external_service_id: ${SERVICE_ID}, hub_system: pos-1, launch_url: "${pos}/launch"}
`;
  const posSim = `log_level: info
listener: {address: 127.0.0.1, port: ${ports.pos}}
admin: {address: 127.0.0.1, port: ${ports.posAdmin}}
launch:
  relay_url: "${relay}"
  token: {value: ${HUB_TOKEN}}
`;
  const processes = [
    startProcess('ocean-sim', binaries.oceanSim, oceanSim, dir),
    startProcess('ocean-relay-launch', binaries.launch, relayConfig, dir),
    startProcess('pos-sim', binaries.posSim, posSim, dir),
  ];
  const stack = {
    mode,
    dir,
    ocean,
    relay,
    pos,
    oceanAdmin: `http://127.0.0.1:${ports.oceanAdmin}`,
    relayAdmin: `http://127.0.0.1:${ports.relayAdmin}`,
    posAdmin: `http://127.0.0.1:${ports.posAdmin}`,
    processes,
    webhooks,
    log: (name) => processes.find((p) => p.name === name).log.text,
    async stop() {
      await Promise.all(
        processes.map(
          (p) =>
            new Promise((resolve) => {
              if (p.log.exit) return resolve();
              p.child.once('exit', resolve);
              p.child.kill('SIGTERM');
              setTimeout(() => p.child.kill('SIGKILL'), 5000).unref();
            }),
        ),
      );
      await new Promise((resolve) => webhooks.server.close(resolve));
    },
  };
  try {
    await waitFor(`${stack.oceanAdmin}/healthz`);
    await waitFor(`${stack.relayAdmin}/healthz`);
    await waitFor(`${stack.posAdmin}/healthz`);
    // ocean-sim sends its one referral; its admin lists it with the refs the launch carries.
    const end = Date.now() + 15000;
    while (Date.now() < end && (webhooks.bodies.length === 0 || !stack.referral)) {
      const referrals = await (await fetch(`${stack.oceanAdmin}/referrals`)).json();
      if (referrals.length > 0) stack.referral = referrals[0];
      await sleep(100);
    }
    if (!stack.referral || webhooks.bodies.length === 0) throw new Error('ocean-sim sent no referral');
    stack.patient = patientFields(webhooks.bodies[0]);
  } catch (e) {
    await stack.stop();
    for (const p of processes) e.message += `\n--- ${p.name} (${JSON.stringify(p.log.exit ?? 'running')}):\n${p.log.text}`;
    throw e;
  }
  return stack;
}
