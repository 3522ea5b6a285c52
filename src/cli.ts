// klab's command line. Each command group registers itself from src/commands/.
import { Command } from 'commander';
import { registerInventoryCommands } from './commands/inventory.js';
import { registerRunCommands } from './commands/run.js';
import { registerLabCommand } from './commands/lab.js';
import { registerResetCommand } from './commands/reset.js';
import { registerSnapshotCommands } from './commands/snapshot.js';
import { runMain } from './commands/main.js';

const program = new Command('klab')
  .description('Bring up a kubeadm Kubernetes lab on three machines, with klab\'s Kafka-compatible broker on it')
  .option('-i, --inventory <file>', 'inventory file', 'klab.yaml');

registerInventoryCommands(program);
registerRunCommands(program);
registerResetCommand(program);
registerSnapshotCommands(program);
registerLabCommand(program);

await runMain(program, process.argv);
