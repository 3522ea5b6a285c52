import { defineConfig } from 'vitest/config';

// Five suites, one folder each (DESIGN.md, Tests): unit is pure logic; ssh drives real sshd
// test hosts on loopback; broker drives real broker processes with real clients; lab boots
// qemu VMs and is run on its own (`npm run test:lab`); faults is the long randomized fault run
// on a three-broker cluster (`npm run test:faults`), kept out of the README's test command
// until it has a longer record of clean runs (see broker/README.md).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      { test: { name: 'ssh', include: ['test/ssh/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
      {
        test: {
          name: 'broker',
          include: ['test/broker/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // Broker tests start real processes and ports; running files one at a time keeps
          // two cores from starving them and keeps failures readable.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          testTimeout: 3_600_000,
          hookTimeout: 3_600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
