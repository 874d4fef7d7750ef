/** Sysroot fault plans: a point by name, its K-th time, or the N-th point reached; unknown names refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Codes, OstreeTsError } from '../../src/errors/index.js';
import { SysrootFaultReached, SysrootFaults, parseSysrootFaults } from '../../src/sysroot/index.js';

function stopsAt(plan: SysrootFaults, points: Parameters<SysrootFaults['hit']>[0][]): number | null {
  for (let i = 0; i < points.length; i++) {
    try {
      plan.hit(points[i]);
    } catch (e) {
      assert.ok(e instanceof SysrootFaultReached);
      assert.equal(e.code, Codes.FAULT_POINT);
      assert.equal(e.index, i + 1);
      return i + 1;
    }
  }
  return null;
}

test('a plan stops at POINT (its first time), POINT#K, or @N, and logs every point reached', () => {
  const run = ['esp-file', 'esp-file', 'esp-entry', 'record'] as const;
  assert.equal(stopsAt(new SysrootFaults(['esp-file']), [...run]), 1);
  assert.equal(stopsAt(new SysrootFaults(['esp-file#2']), [...run]), 2);
  assert.equal(stopsAt(new SysrootFaults(['record']), [...run]), 4);
  assert.equal(stopsAt(new SysrootFaults(['@3']), [...run]), 3);
  assert.equal(stopsAt(new SysrootFaults(['@5']), [...run]), null);
  const all = new SysrootFaults();
  assert.equal(stopsAt(all, [...run]), null);
  assert.deepEqual(all.reached, [...run]);
});

test('parseSysrootFaults: known points, #K and @N; the repository\'s own names left to it; anything else refused naming the points', () => {
  const plan = parseSysrootFaults('esp-entry#2, @7,before-ref', ['before-ref', 'before-commit-rename']);
  assert.equal(stopsAt(plan, ['esp-entry', 'esp-entry']), 2);
  for (const bad of ['nope', 'esp-entry#0', '@0', '@x', 'esp-entry#']) {
    assert.throws(() => parseSysrootFaults(bad), (e: unknown) => e instanceof OstreeTsError && e.code === Codes.USAGE && e.message.includes('esp-entry') && e.message.includes(bad), bad);
  }
});
