import { describe, expect, it } from 'vitest';
import { chooseVmSize, kubeadmMinimum } from '../../src/lab/sizing.js';

const gib = 1024;

describe('lab VM size', () => {
  it('gives three VMs 2 vCPUs and 2 GiB each on a machine with room, without warnings', () => {
    expect(chooseVmSize({ cpus: 2, memoryMb: 24 * gib }, {}, 3)).toEqual({ size: { cpus: 2, memoryMb: 2048 }, warnings: [] });
    expect(chooseVmSize({ cpus: 16, memoryMb: 64 * gib }, {}, 3)).toEqual({ size: { cpus: 2, memoryMb: 2048 }, warnings: [] });
  });

  it('gives a one-core machine one vCPU per VM and says kubeadm will complain about it', () => {
    const { size, warnings } = chooseVmSize({ cpus: 1, memoryMb: 16 * gib }, {}, 3);
    expect(size).toEqual({ cpus: 1, memoryMb: 2048 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/1 vCPU per VM is below kubeadm's minimum of 2.*NumCPU/);
  });

  it('shrinks memory to what fits beside the host on a small machine, warning about kubeadm', () => {
    const { size, warnings } = chooseVmSize({ cpus: 4, memoryMb: 8 * gib }, {}, 3);
    expect(size.cpus).toBe(2);
    expect(size.memoryMb).toBeLessThan(2048);
    expect(size.memoryMb % 128).toBe(0);
    // Three VMs with qemu's overhead still leave the host its 2 GiB.
    expect(3 * (size.memoryMb + 300) + 2048).toBeLessThanOrEqual(8 * gib);
    expect(warnings.join('\n')).toMatch(/MiB per VM leaves the guest less than kubeadm's minimum of 1700 MB.*Mem/);
  });

  it('never goes below 1 GiB, even where three of those do not fit', () => {
    expect(chooseVmSize({ cpus: 2, memoryMb: 3 * gib }, {}, 3).size.memoryMb).toBe(1024);
  });

  it('uses what the user asked for as given, warning only below kubeadm minimums', () => {
    expect(chooseVmSize({ cpus: 2, memoryMb: 4 * gib }, { cpus: 4, memoryMb: 4096 }, 3)).toEqual({ size: { cpus: 4, memoryMb: 4096 }, warnings: [] });
    const small = chooseVmSize({ cpus: 8, memoryMb: 64 * gib }, { cpus: 1, memoryMb: 1024 }, 3);
    expect(small.size).toEqual({ cpus: 1, memoryMb: 1024 });
    expect(small.warnings).toHaveLength(2);
  });

  it('sizes the part not asked for to the machine', () => {
    expect(chooseVmSize({ cpus: 2, memoryMb: 24 * gib }, { cpus: 1 }, 3).size).toEqual({ cpus: 1, memoryMb: 2048 });
    expect(chooseVmSize({ cpus: 2, memoryMb: 24 * gib }, { memoryMb: 3072 }, 3).size).toEqual({ cpus: 2, memoryMb: 3072 });
  });

  it('warns for memory that the guest kernel leaves short of kubeadm, even at exactly its minimum', () => {
    expect(chooseVmSize({ cpus: 2, memoryMb: 24 * gib }, { memoryMb: kubeadmMinimum.memoryMb }, 3).warnings).toHaveLength(1);
    expect(chooseVmSize({ cpus: 2, memoryMb: 24 * gib }, { memoryMb: 2048 }, 3).warnings).toEqual([]);
  });
});
