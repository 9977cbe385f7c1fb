// Builds libs/jwt-rotation as the publishable package `nest-jwt-rotation`:
// compiled JavaScript and declarations in libs/jwt-rotation/dist, with the README and LICENSE
// beside its package.json, ready for `npm pack libs/jwt-rotation`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'libs/jwt-rotation');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(join(lib, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(lib, 'tsconfig.lib.json')], { stdio: 'inherit' });
for (const file of ['README.md', 'LICENSE']) {
  if (existsSync(join(root, file))) copyFileSync(join(root, file), join(lib, file));
}
console.log(`Built ${join(lib, 'dist')}; pack it with: npm pack ./libs/jwt-rotation`);
