import { defineConfig } from 'vitest/config';

// Four suites, one folder each (DESIGN.md, Tests): unit is pure logic; ssh drives real sshd
// test hosts on loopback; broker drives real broker processes with real clients; lab boots
// qemu VMs and is run on its own (`npm run test:lab`).
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
