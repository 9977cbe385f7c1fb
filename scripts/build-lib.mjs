// Builds libs/jwt-rotation as the publishable package `nest-jwt-rotation`:
// compiled JavaScript and declarations in libs/jwt-rotation/dist (source maps carry their sources),
// with the LICENSE copied beside its package.json and its own README.md, ready for
// `npm pack ./libs/jwt-rotation`. The package README is libs/jwt-rotation/README.md, not the
// workspace's: a user of the package has no repository to clone and no test suite to run.
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
if (existsSync(join(root, 'LICENSE'))) copyFileSync(join(root, 'LICENSE'), join(lib, 'LICENSE'));
console.log(`Built ${join(lib, 'dist')}; pack it with: npm pack ./libs/jwt-rotation`);
