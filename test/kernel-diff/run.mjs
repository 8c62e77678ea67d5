// `npm run test:kernel -- --cases 10000 [--seed N] [--only 3,17]`: runs the kernel-differential
// suite alone, passing the options through as KPATH_KERNEL_CASES / _SEED / _ONLY.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const env = { ...process.env };
const names = {
  '--cases': 'KPATH_KERNEL_CASES',
  '--seed': 'KPATH_KERNEL_SEED',
  '--only': 'KPATH_KERNEL_ONLY',
};
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split('=');
  const name = names[flag];
  if (!name) {
    console.error(`test:kernel: unknown option ${args[i]} (expected --cases N, --seed N, --only I,J)`);
    process.exit(2);
  }
  const value = inline ?? args[++i];
  if (value === undefined || !/^[0-9,]+$/.test(value)) {
    console.error(`test:kernel: ${flag} needs a number (e.g. ${flag} 10000)`);
    process.exit(2);
  }
  env[name] = value;
}
const r = spawnSync('npx', ['vitest', 'run', 'test/kernel-diff/kernel-diff.test.ts'], {
  stdio: 'inherit',
  env,
});
process.exit(r.status ?? 1);
